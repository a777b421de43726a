"""Clean vs mislabeled sources: what training on wrong labels costs on every target.

For every source that is a variant with `mislabel` (e.g. `sentiment2_mislabeled`, every
training label flipped) and its clean counterpart (the nearest ancestor in its `variant_of`
chain without `mislabel`), on every target: the clean adapter's and the mislabeled adapter's
scores and Δ vs base (points), and the harm of the labels = mislabeled - clean (points;
negative = the wrong labels cost that much). `kind` is the pair kind of (clean, target)
(`direct`: the clean source's own task; `variant-of-parent`; `transfer`). The Latent Traits
study's reading: the harm is large on the source's own task and small elsewhere, since
transfer comes from the inputs more than from the labels.

results/analysis/{model}/mislabel/clean_vs_mislabeled.csv, one row per (variant, target):
  variant, clean, mode, rate, target, kind, score_base, score_clean, score_mislabeled,
  delta_clean, delta_mislabeled, harm
results/analysis/{model}/mislabel/clean_vs_mislabeled.png: base, clean and mislabeled scores
  per target, one panel per variant.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import dataset_roots, pair_kind

COLUMNS = [
    "variant",
    "clean",
    "mode",
    "rate",
    "target",
    "kind",
    "score_base",
    "score_clean",
    "score_mislabeled",
    "delta_clean",
    "delta_mislabeled",
    "harm",
]


def clean_counterpart(name: str, datasets: Mapping[str, Mapping]) -> str | None:
    """The nearest ancestor of `name` without `mislabel` (None when `name` is no mislabeled variant)."""
    if not datasets[name].get("mislabel") or not datasets[name].get("parent"):
        return None
    parent = datasets[name]["parent"]
    while parent is not None and datasets[parent].get("mislabel"):
        parent = datasets[parent].get("parent")
    return parent


def mislabeled_pairs(datasets: Mapping[str, Mapping], sources: list[str]) -> dict[str, str]:
    """{mislabeled variant: clean counterpart} for variants whose counterpart is also a source."""
    pairs = {}
    for name in sources:
        clean = clean_counterpart(name, datasets)
        if clean is not None and clean in sources:
            pairs[name] = clean
    return pairs


def comparison(
    matrix: pd.DataFrame, pairs: Mapping[str, str], settings: Mapping[str, Mapping], roots: Mapping[str, str]
) -> pd.DataFrame:
    """One row per (variant, target); `matrix`: scores (points), rows base + sources, columns targets."""
    rows = []
    for variant, clean in pairs.items():
        for target in matrix.columns:
            base, score_clean = matrix.loc["base", target], matrix.loc[clean, target]
            score_bad = matrix.loc[variant, target]
            rows.append(
                {
                    "variant": variant,
                    "clean": clean,
                    "mode": settings[variant]["mode"],
                    "rate": settings[variant]["rate"],
                    "target": target,
                    "kind": pair_kind(clean, target, roots),
                    "score_base": base,
                    "score_clean": score_clean,
                    "score_mislabeled": score_bad,
                    "delta_clean": score_clean - base,
                    "delta_mislabeled": score_bad - base,
                    "harm": score_bad - score_clean,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def figure(table: pd.DataFrame, model: str):
    """Grouped bars: base, clean and mislabeled scores on every target, one panel per variant."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    variants = list(dict.fromkeys(table.variant))
    n_targets = table.target.nunique()
    fig, axes = plt.subplots(
        len(variants), 1, figsize=(max(6, 1.1 * n_targets + 2), 3.6 * len(variants)), squeeze=False
    )
    for ax, variant in zip(axes[:, 0], variants, strict=True):
        sub = table[table.variant == variant]
        clean = sub.clean.iloc[0]
        long = sub.melt(
            id_vars="target",
            value_vars=["score_base", "score_clean", "score_mislabeled"],
            var_name="adapter",
            value_name="score",
        )
        names = {"score_base": "base", "score_clean": f"{clean} (clean)", "score_mislabeled": variant}
        long["adapter"] = long.adapter.map(names)
        sns.barplot(long, x="target", y="score", hue="adapter", ax=ax, palette=["0.7", "C0", "C3"])
        for patch_x, row in enumerate(sub.itertuples()):
            ax.annotate(
                f"{row.harm:+.1f}",
                (patch_x, max(row.score_clean, row.score_mislabeled)),
                ha="center",
                va="bottom",
            )
        ax.set_title(f"{variant} vs {clean}: labels {sub['mode'].iloc[0]} at rate {sub.rate.iloc[0]:g}")
        ax.set_xlabel("evaluated on (target); numbers: mislabeled − clean (points)")
        ax.set_ylabel("score (points)")
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=8)
    fig.suptitle(f"{model}: clean vs mislabeled training labels")
    fig.tight_layout()
    return fig


def run(
    matrix_csv: str, datasets: Mapping[str, Mapping], sources: list[str], model: str, out: dict
) -> pd.DataFrame:
    """Write the clean-vs-mislabeled table and figure; `datasets`: resolved dataset specs."""
    matrix = pd.read_csv(matrix_csv, index_col="adapter")
    pairs = mislabeled_pairs(datasets, sources)
    if not pairs:
        raise io.DataError(f"{matrix_csv}: no mislabeled variant whose clean counterpart is also a source")
    settings = {v: datasets[v]["mislabel"] for v in pairs}
    table = comparison(matrix, pairs, settings, dataset_roots(datasets))
    io.write_csv(out["table"], table.round(4))
    io.save_figure(out["figure"], figure(table, model))
    return table
