"""The hierarchy of transfer roles, and on-task vs off-task transfer.

Language metadata: resources/languages.csv (iso, name, family, script, resource_class on the
Joshi et al. 2020 0-5 scale, source). Model metadata: the pairs table's model_family and
model_size (config `models[].family`, `size`; an external table's model_name / model_size).

hierarchy.csv: per role (donor | recipient) the language role scores (MT-CL pairs,
`roles.py`, mean over models of the per-model scores) grouped by resource class, language
family and script (score = mean over the group's languages, n_languages), and by model
family and size (score = mean of the language scores of the models in that group,
n_models).
hierarchy_correlation.csv: per role, Spearman ρ of the language score (mean over models)
vs resource class over the languages with a class, with a 95% interval from resampling the
languages with replacement (`resampling` column) and the p-value.
on_off_task.csv: per (model, source): on_task_delta = mean Δ of its MT-CL pairs (same task,
other language), off_task_delta = mean Δ of its CT-ML and CT-CL pairs, their difference,
the pair counts and the harm rates (share of pairs with Δ <= -harm_threshold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from transfer_atlas import io
from transfer_atlas.analysis.common import is_harm, percentile_interval
from transfer_atlas.analysis.transfer_roles.pairs import is_transfer
from transfer_atlas.analysis.transfer_roles.roles import across_models

LANGUAGE_COLUMNS = ("iso", "name", "family", "script", "resource_class", "source")
LANGUAGE_RESAMPLING = "languages resampled with replacement"
ON_OFF_COLUMNS = [
    "model",
    "source",
    "task",
    "language",
    "on_task_delta",
    "off_task_delta",
    "on_minus_off",
    "n_on_task",
    "n_off_task",
    "on_task_harm_rate",
    "off_task_harm_rate",
]


def read_languages(path: str) -> pd.DataFrame:
    """resources/languages.csv indexed by ISO code; resource_class an integer 0-5."""
    table = io.read_csv(path, LANGUAGE_COLUMNS, ("iso", "name", "family", "script", "source"))
    bad = table[~table["resource_class"].isin(range(6))]
    if len(bad):
        raise io.DataError(f"{path}: row {bad.index[0] + 2}, field 'resource_class': must be 0-5")
    return table.set_index("iso")


def hierarchy_table(language_roles: pd.DataFrame, languages: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Role scores grouped by language attributes and by model family / size (see docstring)."""
    per_model = language_roles[language_roles["kind"] == "language"]
    across = across_models(per_model)
    rows = []
    for attr, label in (
        ("resource_class", "resource class"),
        ("family", "language family"),
        ("script", "script"),
    ):
        known = across[across["group"].isin(languages.index)]
        values = known["group"].map(languages[attr])
        for (role, value), frame in known.groupby([known["role"], values], sort=True):
            rows.append(
                {
                    "role": role,
                    "grouping": label,
                    "group": str(value),
                    "score": frame["score"].mean(),
                    "n_languages": len(frame),
                    "n_models": int(frame["n_models"].max()),
                }
            )
    for attr in ("family", "size"):
        keys = per_model["model"].map(
            {m: meta.get(m, {}).get(attr, "unknown") for m in per_model["model"].unique()}
        )
        for (role, value), frame in per_model.groupby([per_model["role"], keys], sort=True):
            rows.append(
                {
                    "role": role,
                    "grouping": f"model {attr}",
                    "group": str(value),
                    "score": frame["score"].mean(),
                    "n_languages": frame["group"].nunique(),
                    "n_models": frame["model"].nunique(),
                }
            )
    return pd.DataFrame(rows, columns=["role", "grouping", "group", "score", "n_languages", "n_models"])


def rank_correlation(scores: pd.Series, classes: pd.Series, n_boot: int, rng: np.random.Generator) -> dict:
    """Spearman ρ of `scores` vs `classes` (aligned by language) with a language-resampling 95% interval."""
    both = pd.concat([scores.rename("score"), classes.rename("cls")], axis=1).dropna()
    out = {
        "n_languages": len(both),
        "spearman_rho": np.nan,
        "p_value": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
    }
    if len(both) < 3 or both["cls"].nunique() < 2:
        return out
    res = spearmanr(both["score"], both["cls"])
    out.update(spearman_rho=float(res.statistic), p_value=float(res.pvalue))
    x, y = both["score"].to_numpy(float), both["cls"].to_numpy(float)
    boot = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
            boot.append(spearmanr(x[idx], y[idx]).statistic)
    out["ci_low"], out["ci_high"] = percentile_interval(boot)
    return out


def correlation_table(
    language_roles: pd.DataFrame, languages: pd.DataFrame, n_boot: int, seed: int
) -> pd.DataFrame:
    """Spearman ρ of donor / recipient language scores vs resource class, per role."""
    across = across_models(language_roles[language_roles["kind"] == "language"])
    rng = np.random.default_rng(seed)
    rows = []
    for role, frame in across.groupby("role", sort=False):
        scores = frame.set_index("group")["score"]
        classes = scores.index.to_series().map(languages["resource_class"]).astype(float)
        rows.append(
            {
                "role": role,
                **rank_correlation(scores, classes, n_boot, rng),
                "resampling": LANGUAGE_RESAMPLING,
            }
        )
    columns = ["role", "n_languages", "spearman_rho", "p_value", "ci_low", "ci_high", "resampling"]
    return pd.DataFrame(rows, columns=columns)


def on_off_task(pairs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """On-task (MT-CL) vs off-task (CT-ML + CT-CL) mean Δ and harm rates per (model, source)."""
    transfer = pairs[is_transfer(pairs)]
    rows = []
    for (model, source), frame in transfer.groupby(["model", "source"], sort=False):
        on = frame.loc[frame["regime"] == "MT-CL", "delta"].to_numpy(float)
        off = frame.loc[frame["regime"].isin(["CT-ML", "CT-CL"]), "delta"].to_numpy(float)
        mean = lambda v: float(v.mean()) if len(v) else np.nan  # noqa: E731
        rows.append(
            {
                "model": model,
                "source": source,
                "task": frame["source_task"].iloc[0],
                "language": frame["source_language"].iloc[0],
                "on_task_delta": mean(on),
                "off_task_delta": mean(off),
                "on_minus_off": mean(on) - mean(off),
                "n_on_task": len(on),
                "n_off_task": len(off),
                "on_task_harm_rate": mean(is_harm(on, settings).astype(float)),
                "off_task_harm_rate": mean(is_harm(off, settings).astype(float)),
            }
        )
    return pd.DataFrame(rows, columns=ON_OFF_COLUMNS)
