"""The transfer-roles lines of results/report/summary.md, one block per collection of models."""

from __future__ import annotations

import pandas as pd


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if pd.isna(x) else f"{x:+.{digits}f}"


def regime_lines(regimes_csv: str) -> list[str]:
    table = pd.read_csv(regimes_csv)
    models = table["model"].unique()
    rows = table[table["model"] == "mean over models"] if len(models) > 1 else table
    items = []
    for r in rows.itertuples():
        spread = (
            f" ± {r.mean_delta_se_across_models:.2f} (SE across {int(r.n_models)} models)"
            if "mean_delta_se_across_models" in table
            and not pd.isna(getattr(r, "mean_delta_se_across_models", float("nan")))
            else f" [{r.mean_delta_ci_low:+.2f}, {r.mean_delta_ci_high:+.2f}] (crossed bootstrap)"
        )
        items.append(f"{r.regime} {_fmt(r.mean_delta)}{spread}, {100 * r.share_positive:.0f}% positive")
    return [f"- mean Δ by regime ({rows['model'].iloc[0]}): " + "; ".join(items)]


def across_lines(paths: dict[str, str]) -> list[str]:
    lines = []
    cons = pd.read_csv(paths["consistency_summary"])
    cons = cons[cons["grouping"] == "all"]
    if cons["n"].sum():
        items = [
            f"{r.regime} median {r.median:.2f} (IQR {r.q25:.2f} to {r.q75:.2f}, n = {int(r.n)})"
            for r in cons.itertuples()
            if r.n
        ]
        lines.append("- consistency index (Kendall τ-b between models, per source): " + "; ".join(items))
    else:
        lines.append("- consistency index: not defined (needs two models sharing sources with 3+ recipients)")
    var = pd.read_csv(paths["variance"])
    overall = var[var["scope"] == "transfer"].sort_values("share", ascending=False)
    if len(overall):
        items = ", ".join(f"{r.component} {100 * r.share:.0f}%" for r in overall.itertuples())
        lines.append(f"- variance of transfer Δ (REML, crossed random effects): {items}")
    for kind in ("language", "task"):
        roles = pd.read_csv(paths[f"{kind}_roles"], keep_default_na=False, na_values=[""])
        for role in ("donor", "recipient"):
            sub = roles[roles["role"] == role].sort_values("score", ascending=False)
            if len(sub):
                top, low = sub.iloc[0], sub.iloc[-1]
                lines.append(
                    f"- {kind} {role}s ({top.regime} pairs, mean over {int(sub['n_models'].max())} models): "
                    f"strongest {top.group} {_fmt(top.score)}, weakest {low.group} {_fmt(low.score)}"
                )
    corr = pd.read_csv(paths["hierarchy_correlation"])
    for r in corr.itertuples():
        if not pd.isna(r.spearman_rho):
            lines.append(
                f"- {r.role} score vs resource class: Spearman ρ = {r.spearman_rho:.2f} "
                f"[{r.ci_low:.2f}, {r.ci_high:.2f}] over {int(r.n_languages)} languages"
            )
    onoff = pd.read_csv(paths["on_off_task"])
    if len(onoff):
        lines.append(
            f"- on-task (MT-CL) vs off-task mean Δ over {len(onoff)} adapters: "
            f"{_fmt(onoff['on_task_delta'].mean())} vs {_fmt(onoff['off_task_delta'].mean())}; "
            f"off-task harm rate {100 * onoff['off_task_harm_rate'].mean():.0f}%"
        )
    return lines


def section(collection: str, paths: dict[str, str]) -> list[str]:
    """Markdown lines of one collection (`all_models` or `external`)."""
    title = "our models" if collection == "all_models" else "the external results table"
    lines = [f"### Donors and recipients: {title} (`{collection}`)", ""]
    lines += regime_lines(paths["regimes"])
    lines += across_lines(paths)
    return lines + [""]
