"""What drives transfer: a variance decomposition of Δ with crossed random effects.

Model: Δ = μ + a(target language) + b(source language) + c(target task) + d(source task)
+ e(model) + ε, every effect a crossed random intercept with its own variance, fitted by
REML (restricted maximum likelihood). The fit uses the mixed-model equations with the
Woodbury identity (cost grows with the number of levels, not of pairs squared), so it runs
on the study's 17,424-row table; on small tables it equals statsmodels' MixedLM with
variance components (tested). Per regime, a factor with one level is dropped and factors
that split the pairs identically (in MT-CL the source task is the target task; in CT-ML
the source language is the target language) are fitted as one, named `a = b`.

variance.csv: scope (`transfer` = the three transfer regimes, or one regime), component,
variance (points²), share (fraction of the total, residual included), n_pairs, n_levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from transfer_atlas.analysis.transfer_roles.pairs import TRANSFER, is_transfer

FACTORS = {
    "target language": "target_language",
    "source language": "source_language",
    "target task": "target_task",
    "source task": "source_task",
    "model": "model",
}
RESIDUAL = "residual"


def _design(frame: pd.DataFrame, factors: dict[str, str]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Level codes per factor, dropping one-level factors and merging identical partitions."""
    codes, levels = {}, {}
    for name, column in factors.items():
        code = pd.factorize(frame[column].astype(str))[0]
        if code.max(initial=0) < 1:
            continue
        twin = next(
            (k for k, c in codes.items() if len(set(zip(c, code))) == levels[k] == code.max() + 1), None
        )
        if twin is not None:
            codes[f"{twin} = {name}"] = codes.pop(twin)
            levels[f"{twin} = {name}"] = levels.pop(twin)
            continue
        codes[name], levels[name] = code, int(code.max() + 1)
    return codes, levels


def reml(y: np.ndarray, codes: dict[str, np.ndarray]) -> dict[str, float]:
    """REML variance components {factor: variance, "residual": variance} of y = μ + Σ effects + ε."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    sizes = [int(c.max() + 1) for c in codes.values()]
    z = np.zeros((n, sum(sizes)))
    offset = 0
    for c, size in zip(codes.values(), sizes, strict=True):
        z[np.arange(n), offset + c] = 1.0
        offset += size
    ztz, zty, zt1 = z.T @ z, z.T @ y, z.sum(axis=0)
    yty, oty = y @ y, y.sum()

    def objective(theta):
        gamma = np.repeat(np.exp(theta), sizes)
        m = np.diag(1 / gamma) + ztz
        chol = np.linalg.cholesky(m)
        solve = lambda b: np.linalg.solve(chol.T, np.linalg.solve(chol, b))  # noqa: E731
        m_zt1, m_zty = solve(zt1), solve(zty)
        xhx = n - zt1 @ m_zt1
        xhy = oty - zt1 @ m_zty
        yhy = yty - zty @ m_zty
        rhr = yhy - xhy**2 / xhx
        logdet = np.sum(np.log(gamma)) + 2 * np.sum(np.log(np.diag(chol)))
        return (n - 1) * np.log(max(rhr, 1e-300) / (n - 1)) + logdet + np.log(xhx), rhr

    best = None
    for start in (0.0, -2.0, 2.0):
        res = minimize(
            lambda t: objective(t)[0],
            np.full(len(sizes), start),
            method="L-BFGS-B",
            bounds=[(-25, 12)] * len(sizes),
        )
        if best is None or res.fun < best.fun:
            best = res
    sigma2 = objective(best.x)[1] / (n - 1)
    out = {name: float(g * sigma2) for name, g in zip(codes, np.exp(best.x), strict=True)}
    out[RESIDUAL] = float(sigma2)
    return out


def decompose(frame: pd.DataFrame, scope: str, factors: dict[str, str] = FACTORS) -> pd.DataFrame:
    """Variance components and shares of Δ over the rows of `frame`."""
    codes, levels = _design(frame, factors)
    if len(frame) < 3 or not codes:
        return pd.DataFrame(columns=["scope", "component", "variance", "share", "n_pairs", "n_levels"])
    comps = reml(frame["delta"].to_numpy(float), codes)
    total = sum(comps.values())
    rows = [
        {
            "scope": scope,
            "component": name,
            "variance": value,
            "share": value / total if total > 0 else np.nan,
            "n_pairs": len(frame),
            "n_levels": levels.get(name, len(frame)),
        }
        for name, value in comps.items()
    ]
    return pd.DataFrame(rows)


def variance_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Decomposition over all transfer pairs (`transfer`) and per transfer regime."""
    transfer = pairs[is_transfer(pairs)]
    parts = [decompose(transfer, "transfer")]
    parts += [decompose(transfer[transfer["regime"] == r], r) for r in TRANSFER]
    return (
        pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    )
