"""The pairs table of a task x language grid: one row per model x source x target.

A (source, target) pair falls in one of four regimes by the task and language of the two
datasets (the Donors and Recipients study):
  MT-ML  same task, same language: the direct cell (fine-tuned on what it is evaluated on);
         reported on its own row and excluded from every transfer mean
  MT-CL  same task, other language
  CT-ML  other task, same language
  CT-CL  other task, other language
and has a pair kind (`transfer_atlas.analysis.common`: direct, variant-of-parent,
transfer). A pair counts in transfer statistics when its kind is `transfer` and its regime
is not MT-ML (`is_transfer`); variants keep their parent's task and language, so a
mislabeled copy evaluated on its parent is MT-ML and variant-of-parent.

Task and language of a dataset come from its resolved config entry: `task` and `language`
(set by `languages:` expansion). A dataset without a language gets `und` (ISO 639
"undetermined"), which compares equal to itself: a grid without languages (the trait
suite) has only MT-ML and CT-ML pairs.

pairs.csv columns: model, model_family, model_size (config `models[].family` / `size`, or
the external table's model_name / model_size; `unknown` when not given), source, target, source_task, source_language, target_task,
target_language, regime, kind, delta (Δ = adapter minus base, points, mean over seeds),
delta_std, delta_se (over seeds), n_seeds, value (adapter score, points), base_value.
Built from our matrix (`pairs_from_cells`) or an external release table (`external.py`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import TRANSFER_PAIR, pair_kinds

REGIMES = ("MT-ML", "MT-CL", "CT-ML", "CT-CL")
TRANSFER = ("MT-CL", "CT-ML", "CT-CL")
UNDETERMINED = "und"
PAIR_COLUMNS = [
    "model",
    "model_family",
    "model_size",
    "source",
    "target",
    "source_task",
    "source_language",
    "target_task",
    "target_language",
    "regime",
    "kind",
    "delta",
    "delta_std",
    "delta_se",
    "n_seeds",
    "value",
    "base_value",
]


def regime(source_task: str, source_language: str, target_task: str, target_language: str) -> str:
    """The regime label of one (source, target) pair."""
    task = "MT" if source_task == target_task else "CT"
    lang = "ML" if (source_language or UNDETERMINED) == (target_language or UNDETERMINED) else "CL"
    return f"{task}-{lang}"


def label_regimes(pairs: pd.DataFrame) -> pd.Series:
    """Regime of every row of a frame with source_/target_ task and language columns."""
    same_task = pairs["source_task"].astype(str) == pairs["target_task"].astype(str)
    src = pairs["source_language"].fillna(UNDETERMINED).astype(str)
    same_lang = src == pairs["target_language"].fillna(UNDETERMINED).astype(str)
    return pd.Series(np.where(same_task, "MT-", "CT-"), index=pairs.index).str.cat(
        np.where(same_lang, "ML", "CL")
    )


def is_transfer(pairs: pd.DataFrame) -> pd.Series:
    """Rows that enter transfer statistics: kind `transfer` and a transfer regime."""
    return pairs["regime"].isin(TRANSFER) & (pairs["kind"] == TRANSFER_PAIR)


def dataset_roles(datasets: dict[str, dict]) -> dict[str, dict[str, str]]:
    """{dataset: {"task", "language", "root"}} from resolved dataset specs (language `und` if unset)."""
    from transfer_atlas.analysis.common import dataset_roots

    roots = dataset_roots(datasets)
    return {
        name: {
            "task": str(spec["task"]),
            "language": str(spec.get("language") or UNDETERMINED),
            "root": roots[name],
        }
        for name, spec in datasets.items()
    }


def pairs_from_cells(
    cells: pd.DataFrame, roles: dict[str, dict], model: str, meta: dict | None = None
) -> pd.DataFrame:
    """Pairs table from matrix/{model}/cells.csv (adapter rows only), dataset roles and the
    model's metadata ({"family", "size"})."""
    cells = cells[cells["adapter"] != "base"]
    missing = sorted((set(cells["adapter"]) | set(cells["target"])) - set(roles))
    if missing:
        raise io.DataError(f"cells.csv names datasets with no task/language: {missing[:5]}")
    pairs = pd.DataFrame(
        {
            "model": model,
            "source": cells["adapter"].to_numpy(),
            "target": cells["target"].to_numpy(),
            "delta": cells["delta_mean"].to_numpy(),
            "delta_std": cells["delta_std"].to_numpy(),
            "delta_se": cells["delta_se"].to_numpy(),
            "n_seeds": cells["n_seeds"].to_numpy(),
            "value": cells["value_mean"].to_numpy(),
            "base_value": (cells["value_mean"] - cells["delta_mean"]).to_numpy(),
        }
    )
    for side in ("source", "target"):
        pairs[f"{side}_task"] = pairs[side].map(lambda n: roles[n]["task"])
        pairs[f"{side}_language"] = pairs[side].map(lambda n: roles[n]["language"])
    pairs["model_family"] = str((meta or {}).get("family") or model)
    pairs["model_size"] = str((meta or {}).get("size") or "unknown")
    pairs["regime"] = label_regimes(pairs)
    roots = {name: role.get("root", name) for name, role in roles.items()}
    pairs["kind"] = pair_kinds(pairs["source"], pairs["target"], roots)
    return pairs[PAIR_COLUMNS].reset_index(drop=True)


def read_pairs(path: str) -> pd.DataFrame:
    """A pairs.csv with its columns checked; languages read as strings (`und` kept)."""
    text = ("source_language", "target_language", "model", "model_family", "model_size", "kind")
    return io.read_csv(path, PAIR_COLUMNS, text)
