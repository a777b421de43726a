"""Predictability of transfer: the Donors and Recipients study's consistency index.

For every source and regime, and every pair of models that both have that source, Kendall's
τ-b (scipy, ties corrected) between the two models' Δ on the recipients (the targets of that
source in that regime; transfer pairs only, at least `MIN_RECIPIENTS` in common). A regime
whose recipients are ranked alike by every model is predictable.

consistency.csv: source, regime, model_a, model_b, same_family, same_size, n_recipients,
tau_b, p_value.
consistency_summary.csv: one row per regime and grouping (`all` pairs of models, or the
pairs of models of the same / a different family or size): n (source x model-pair values),
median, q25, q75, iqr, mean of τ-b.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from transfer_atlas.analysis.transfer_roles.pairs import TRANSFER, is_transfer

MIN_RECIPIENTS = 3
COLUMNS = [
    "source",
    "regime",
    "model_a",
    "model_b",
    "same_family",
    "same_size",
    "n_recipients",
    "tau_b",
    "p_value",
]


def model_meta(pairs: pd.DataFrame) -> dict[str, dict]:
    """{model: {"family", "size"}} from the pairs table's model_family / model_size columns."""
    meta = pairs.drop_duplicates("model").set_index("model")
    return {
        m: {"family": str(meta.loc[m, "model_family"]), "size": str(meta.loc[m, "model_size"])}
        for m in meta.index
    }


def tau_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """τ-b of every (source, regime, pair of models); see the module docstring."""
    transfer = pairs[is_transfer(pairs)]
    meta = model_meta(pairs)
    models = list(dict.fromkeys(pairs["model"]))
    rows = []
    for (source, regime), frame in transfer.groupby(["source", "regime"], sort=False):
        table = frame.pivot_table(index="target", columns="model", values="delta")
        for a, b in combinations([m for m in models if m in table], 2):
            both = table[[a, b]].dropna()
            tau, p = (np.nan, np.nan)
            if len(both) >= MIN_RECIPIENTS:
                res = kendalltau(both[a], both[b], variant="b")
                tau, p = float(res.statistic), float(res.pvalue)
            rows.append(
                {
                    "source": source,
                    "regime": regime,
                    "model_a": a,
                    "model_b": b,
                    "same_family": meta[a]["family"] == meta[b]["family"],
                    "same_size": meta[a]["size"] == meta[b]["size"],
                    "n_recipients": len(both),
                    "tau_b": tau,
                    "p_value": p,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _describe(values: pd.Series) -> dict[str, float]:
    values = values.dropna()
    if values.empty:
        return {"n": 0, "median": np.nan, "q25": np.nan, "q75": np.nan, "iqr": np.nan, "mean": np.nan}
    q25, med, q75 = np.percentile(values, [25, 50, 75])
    return {"n": len(values), "median": med, "q25": q25, "q75": q75, "iqr": q75 - q25, "mean": values.mean()}


def summarize(taus: pd.DataFrame) -> pd.DataFrame:
    """Median and IQR of τ-b per regime: over all pairs of models, and split by same/different
    family and size."""
    rows = []
    for regime in [*TRANSFER, "transfer"]:
        frame = taus if regime == "transfer" else taus[taus["regime"] == regime]
        rows.append({"regime": regime, "grouping": "all", **_describe(frame["tau_b"])})
        for col in ("family", "size"):
            for same, label in ((True, f"same {col}"), (False, f"different {col}")):
                sel = frame[frame[f"same_{col}"] == same]
                rows.append({"regime": regime, "grouping": label, **_describe(sel["tau_b"])})
    return pd.DataFrame(rows)
