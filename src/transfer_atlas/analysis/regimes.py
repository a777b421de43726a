"""Transfer regimes of a task x language grid (the Donors and Recipients study).

A (source, target) pair falls in one of four regimes by the task and language of the two
datasets:
  MT-ML  same task, same language: the direct cell (fine-tuned on what it is evaluated on);
         reported on its own row and excluded from every transfer mean
  MT-CL  same task, other language
  CT-ML  other task, same language
  CT-CL  other task, other language
`transfer` is the pool of the three transfer regimes.

Task and language of a dataset come from its resolved config entry: `task` and `language`
(set by `languages:` expansion). A dataset without a language gets `und` (ISO 639
"undetermined"), which compares equal to itself: a grid without languages (the trait
suite) has only MT-ML and CT-ML pairs. Variants keep their parent's task, so a mislabeled
copy evaluated on its parent is an MT-ML pair.

The pairs table (pairs.csv, one row per model x source x target) is the common input of
the regime and donor/recipient analyses, built from our matrix (`pairs_from_cells`) or an
external release table (`transfer_atlas.external`). Δ = adapter minus base, in points (pp),
mean over seeds; delta_std / delta_se over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io

REGIMES = ("MT-ML", "MT-CL", "CT-ML", "CT-CL")
TRANSFER = ("MT-CL", "CT-ML", "CT-CL")
UNDETERMINED = "und"
PAIR_COLUMNS = [
    "model",
    "source",
    "target",
    "source_task",
    "source_language",
    "target_task",
    "target_language",
    "regime",
    "delta",
    "delta_std",
    "delta_se",
    "n_seeds",
    "value",
    "base_value",
]
DELTA = "Δ vs base (points)"


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


def dataset_roles(datasets: dict[str, dict]) -> dict[str, dict[str, str]]:
    """{dataset: {"task", "language"}} from resolved dataset specs (language `und` if unset)."""
    return {
        name: {"task": str(spec["task"]), "language": str(spec.get("language") or UNDETERMINED)}
        for name, spec in datasets.items()
    }


def pairs_from_cells(cells: pd.DataFrame, roles: dict[str, dict], model: str) -> pd.DataFrame:
    """Pairs table from matrix/{model}/cells.csv (adapter rows only) and dataset roles."""
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
    pairs["regime"] = label_regimes(pairs)
    return pairs[PAIR_COLUMNS].reset_index(drop=True)


def read_pairs(path: str) -> pd.DataFrame:
    """A pairs.csv with its columns checked; languages read as strings (`und` kept)."""
    return io.read_csv(path, PAIR_COLUMNS, ("source_language", "target_language", "model"))


def bootstrap_stats(delta: np.ndarray, settings: dict, seed: int) -> dict[str, float]:
    """Mean Δ (points), shares positive / harmed (fractions), each with a bootstrap 95% interval."""
    delta = np.asarray(delta, dtype=float)
    pos, harm = settings["positive_threshold"], -settings["harm_threshold"]
    stats = {"n_pairs": len(delta)}
    funcs = {
        "mean_delta": lambda d: d.mean(-1),
        "share_positive": lambda d: (d > pos).mean(-1),
        "share_harm": lambda d: (d <= harm).mean(-1),
    }
    n_boot = settings["bootstrap"]
    rng = np.random.default_rng(seed)
    resampled = delta[rng.integers(0, len(delta), (n_boot, len(delta)))] if n_boot and len(delta) else None
    for name, f in funcs.items():
        stats[name] = float(f(delta)) if len(delta) else np.nan
        lo, hi = np.percentile(f(resampled), [2.5, 97.5]) if resampled is not None else (np.nan, np.nan)
        stats.update({f"{name}_ci_low": float(lo), f"{name}_ci_high": float(hi)})
    stats.update(
        median_delta=float(np.median(delta)) if len(delta) else np.nan,
        std_delta=float(delta.std(ddof=1)) if len(delta) > 1 else np.nan,
    )
    return stats


def summarize(pairs: pd.DataFrame, settings: dict, seed: int = 0) -> pd.DataFrame:
    """One row per model x regime (plus `transfer` = MT-CL + CT-ML + CT-CL) and, with several
    models, the same rows for model `all` (every pair of every model pooled)."""
    groups = [(m, g) for m, g in pairs.groupby("model", sort=False)]
    if len(groups) > 1:
        groups.append(("all", pairs))
    rows = []
    for model, frame in groups:
        for name in (*REGIMES, "transfer"):
            sel = frame["regime"].isin(TRANSFER) if name == "transfer" else frame["regime"] == name
            rows.append(
                {
                    "model": model,
                    "regime": name,
                    "direct": name == "MT-ML",
                    **bootstrap_stats(frame.loc[sel, "delta"].to_numpy(), settings, seed),
                }
            )
    return pd.DataFrame(rows)


def regime_figure(summary: pd.DataFrame, title: str, settings: dict):
    """Mean Δ, share positive and share harmed per regime (bars: models; whiskers: 95% CI)."""
    import seaborn as sns

    from transfer_atlas.analysis.figures import grid

    order = [*REGIMES, "transfer"]
    pos, harm = settings["positive_threshold"], settings["harm_threshold"]
    panels = [
        ("mean_delta", f"mean {DELTA}", 1.0),
        ("share_positive", f"share positive (Δ > {pos:g} pp), %", 100.0),
        ("share_harm", f"share harmed (Δ ≤ -{harm:g} pp), %", 100.0),
    ]
    fig, axes = grid(3, 3, width=4.6, height=3.6)
    models = list(dict.fromkeys(summary["model"]))
    palette = dict(zip(models, sns.color_palette("colorblind", len(models)), strict=True))
    width = 0.8 / len(models)
    for ax, (col, label, scale) in zip(axes, panels, strict=True):
        for k, model in enumerate(models):
            sub = summary[summary["model"] == model].set_index("regime").reindex(order)
            x = np.arange(len(order)) + (k - (len(models) - 1) / 2) * width
            y = scale * sub[col].to_numpy(float)
            err = np.vstack([y - scale * sub[f"{col}_ci_low"], scale * sub[f"{col}_ci_high"] - y])
            ax.bar(x, y, width, color=palette[model], label=model)
            ax.errorbar(x, y, yerr=np.nan_to_num(err.clip(min=0)), fmt="none", ecolor="black", capsize=3)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(np.arange(len(order)), order)
        ax.set_xlabel("regime (MT-ML = direct cell, not transfer)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8, title="model")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def run(cells_or_table: str, model: str, roles: dict, settings: dict, seed: int, out: dict) -> pd.DataFrame:
    """Write pairs.csv, regimes.csv and regimes.png of one model (or of `external` results)."""
    if model == "external":
        from transfer_atlas.external import external_pairs

        pairs = external_pairs(cells_or_table, settings)
    else:
        pairs = pairs_from_cells(pd.read_csv(cells_or_table), roles, model)
    summary = summarize(pairs, settings, seed)
    io.write_csv(out["pairs"], pairs)
    io.write_csv(out["regimes"], summary)
    io.save_figure(
        out["figure"], regime_figure(summary, f"{model}: transfer by regime (95% bootstrap CI)", settings)
    )
    return summary
