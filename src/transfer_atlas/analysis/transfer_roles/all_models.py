"""Regimes, donors and recipients of every model side by side, and their agreement.

Outputs (results/analysis/all_models/transfer_roles/): regimes.csv (as regimes.py, plus
model `all`), donors.csv / recipients.csv (as donors.py), role_consistency.csv (Spearman ρ
of the scores of every pair of models).
"""

from __future__ import annotations

import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.transfer_roles.donors import SIDE, consistency, role_scores
from transfer_atlas.analysis.transfer_roles.pairs import read_pairs
from transfer_atlas.analysis.transfer_roles.regimes import summarize


def run(pairs_csvs: list[str], settings: dict, seed: int, out: dict) -> dict[str, pd.DataFrame]:
    """Regimes, donors and recipients of every model side by side, and their consistency."""
    from transfer_atlas.analysis.transfer_roles.figures import consistency_figure, regime_figure

    frames = [read_pairs(p) for p in pairs_csvs]
    if len({m for f in frames for m in f["model"].unique()}) < sum(f["model"].nunique() for f in frames):
        raise io.DataError(f"the same model name appears in several pairs tables: {pairs_csvs}")
    pairs = pd.concat(frames, ignore_index=True)
    scores = pd.concat([role_scores(pairs, role, settings) for role in SIDE], ignore_index=True)
    tables = {
        "regimes": summarize(pairs, settings, seed),
        "donors": scores[scores["role"] == "donor"],
        "recipients": scores[scores["role"] == "recipient"],
        "consistency": consistency(scores),
    }
    for name, table in tables.items():
        io.write_csv(out[name], table.round(4))
    io.save_figure(
        out["regimes_png"], regime_figure(tables["regimes"], "Transfer by regime, every model", settings)
    )
    io.save_figure(
        out["consistency_png"],
        consistency_figure(tables["consistency"], "Do base models agree on donors and recipients?"),
    )
    return tables
