"""Across models: the Donors and Recipients analyses that compare base models.

One collection of pairs tables at a time: our models (`all_models`) or an external table's
models (`external`); the two are never pooled. Writes (results/analysis/{collection}/
transfer_roles/): language_roles.csv and task_roles.csv (`roles.across_models`: mean of
the per-model MT-CL language / CT-ML task scores, SE across models), their heatmaps
(`role_heatmap`, mean over models, diagonal masked), consistency.csv and
consistency_summary.csv (`consistency.py`: Kendall τ-b per source and regime), variance.csv
(`variance.py`), hierarchy.csv and hierarchy_correlation.csv and on_off_task.csv
(`hierarchy.py`), each with a figure.
"""

from __future__ import annotations

import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.transfer_roles import consistency, hierarchy, roles, variance
from transfer_atlas.analysis.transfer_roles.pairs import read_pairs


def read_collection(pairs_csvs: list[str]) -> pd.DataFrame:
    """The pairs tables of one collection; a model name may appear in one table only."""
    frames = [read_pairs(p) for p in pairs_csvs]
    if len({m for f in frames for m in f["model"].unique()}) < sum(f["model"].nunique() for f in frames):
        raise io.DataError(f"the same model name appears in several pairs tables: {pairs_csvs}")
    return pd.concat(frames, ignore_index=True)


def tables(
    pairs: pd.DataFrame, languages: pd.DataFrame, settings: dict, seed: int
) -> dict[str, pd.DataFrame]:
    """Every across-model table of one collection (see the module docstring)."""
    per_model = roles.group_roles(pairs, settings, seed)
    across = roles.across_models(per_model)
    taus = consistency.tau_table(pairs)
    meta = consistency.model_meta(pairs)
    return {
        "language_roles": across[across["kind"] == "language"].reset_index(drop=True),
        "task_roles": across[across["kind"] == "task"].reset_index(drop=True),
        "language_heatmap": roles.role_heatmap(pairs, "language"),
        "task_heatmap": roles.role_heatmap(pairs, "task"),
        "consistency": taus,
        "consistency_summary": consistency.summarize(taus),
        "variance": variance.variance_table(pairs),
        "hierarchy": hierarchy.hierarchy_table(per_model, languages, meta),
        "hierarchy_correlation": hierarchy.correlation_table(
            per_model, languages, settings["bootstrap"], seed
        ),
        "on_off_task": hierarchy.on_off_task(pairs, settings),
    }


def run(pairs_csvs: list[str], languages_csv: str, collection: str, settings: dict, seed: int, out: dict):
    """Write every across-model table and figure of one collection."""
    from transfer_atlas.analysis.transfer_roles import figures_across as figs

    result = tables(read_collection(pairs_csvs), hierarchy.read_languages(languages_csv), settings, seed)
    for name, table in result.items():
        io.write_csv(out[name], table.round(6), index=name.endswith("heatmap"))
    io.save_figure(
        out["roles_png"], figs.roles_figure(result["language_roles"], result["task_roles"], collection)
    )
    for kind in ("language", "task"):
        io.save_figure(
            out[f"{kind}_heatmap_png"], figs.heatmap_figure(result[f"{kind}_heatmap"], kind, collection)
        )
    io.save_figure(out["consistency_png"], figs.consistency_figure(result["consistency"], collection))
    io.save_figure(out["variance_png"], figs.variance_figure(result["variance"], collection))
    io.save_figure(
        out["hierarchy_png"],
        figs.hierarchy_figure(result["hierarchy"], result["hierarchy_correlation"], collection),
    )
    io.save_figure(out["on_off_task_png"], figs.on_off_task_figure(result["on_off_task"], collection))
    return result
