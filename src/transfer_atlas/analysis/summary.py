"""Key numbers of every analysis as one Markdown page (results/report/summary.md).

Per model: explained variance of the top PCs (bootstrap 95% intervals) and what each
loads on, strongest positive and negative transfers (points), the cells with the most
flipped examples, Mantel tests of similarity
vs transfer, the most asymmetric pairs, length / dependency highlights when present, and
the best transfer predictor against the best baseline (analysis/predict). Last, a Provenance
section (transfer_atlas.provenance.markdown): versions, git commit, and each model's matrix
result-settings hash.
"""

from __future__ import annotations

import pandas as pd

from transfer_atlas import io, provenance
from transfer_atlas.analysis.common import transfer_pairs
from transfer_atlas.analysis.pca import hint_label
from transfer_atlas.analysis.predict import summary_lines as predict_summary_lines

# Why an analysis is absent (workflow/rules/analysis_common.smk: RUN_PCA, RUN_MANTEL).
SKIPPED = {
    "pca": "PCA needs at least 2 adapters in its row set (analysis.pca.rows; default: sources that are no variant).",
    "mantel": "the Mantel test needs at least 3 transfer pairs (source ≠ target, not a variant of one another).",
}


def _table(frame: pd.DataFrame) -> list[str]:
    """A Markdown table of `frame` (values already formatted)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return [head, rule] + ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]


def pca_section(ev_csv: str, naming_json: str, n_pcs: int) -> list[str]:
    ev = pd.read_csv(ev_csv).head(n_pcs)
    naming = io.read_json(naming_json)
    rows = []
    for r in ev.itertuples():
        ci = f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]" if hasattr(r, "ci_low") else ""
        rows.append(
            {
                "PC": r.pc,
                "explained variance (%)": f"{100 * r.explained_variance_ratio:.1f}",
                "95% interval": ci,
                "cumulative (%)": f"{100 * r.cumulative:.1f}",
                "loads on (top targets by absolute loading)": hint_label(naming["top_targets"][r.pc]),
            }
        )
    return [
        f"### Latent traits (PCA of the Δ matrix of {len(naming['rows'])} adapters: "
        f"{', '.join(naming['rows'])}; center={naming['center']}, standardize={naming['standardize']}, "
        f"{naming['bootstrap']} bootstrap resamples; projections in {naming['units']})",
        "",
        *_table(pd.DataFrame(rows)),
        "",
    ]


def transfer_section(delta_csv: str, n_top: int, roots: dict | None = None) -> list[str]:
    """Strongest transfers and the mean Δ over transfer pairs (no direct or variant-of-parent cell)."""
    off = transfer_pairs(pd.read_csv(delta_csv, index_col="adapter"), roots)
    lines = [
        f"### Strongest transfers (transfer pairs: no own cell, no variant on its parent; "
        f"Δ vs base in points; {len(off)} pairs)",
        "",
    ]
    for title, part in (
        ("positive", off.nlargest(n_top, "delta")),
        ("negative", off.nsmallest(n_top, "delta")),
    ):
        items = ", ".join(f"{r.source} → {r.target} {r.delta:+.1f}" for r in part.itertuples())
        lines.append(f"- most {title}: {items}")
    lines.append(
        f"- mean transfer Δ: {off.delta.mean():+.2f} points; share of pairs with Δ > 0: "
        f"{100 * (off.delta > 0).mean():.0f}%"
    )
    return lines + [""]


def mantel_section(stats_csv: str) -> list[str]:
    stats = pd.read_csv(stats_csv)
    rows = [
        {
            "similarity": r.kind,
            "Spearman ρ": f"{r.spearman_rho:.3f}",
            "Mantel p": f"{r.mantel_p:.4f}",
            "pairs": r.n_pairs,
            "permutations": f"{r.permutations}{' (exact)' if r.exact else ''}",
        }
        for r in stats.itertuples()
    ]
    return [
        "### Does dataset similarity explain transfer? (Mantel test)",
        "",
        *_table(pd.DataFrame(rows)),
        "",
    ]


def asymmetry_section(pairs_csv: str, summary_json: str, n_top: int) -> list[str]:
    pairs = pd.read_csv(pairs_csv).head(n_top)
    info = io.read_json(summary_json)
    items = "; ".join(
        f"{r.a} → {r.b} {r.delta_a_to_b:+.1f} vs {r.b} → {r.a} {r.delta_b_to_a:+.1f}"
        for r in pairs.itertuples()
    )
    return [
        "### Asymmetry",
        "",
        f"- asymmetry index ||A|| / ||M||: {info['asymmetry_index']:.2f}; "
        f"pairs whose two directions have opposite signs: {info['n_sign_flips']}",
        f"- most asymmetric: {items}",
        *_block_lines(info),
        "",
    ]


def _block_lines(info: dict) -> list[str]:
    blocks = info.get("blocks")
    if not blocks or any(v is None or v != v for v in blocks.values()):  # absent or NaN (a block has no pair)
        return []
    return [
        f"- by task-type block (transfer pairs, mean Δ): classification → generation "
        f"{blocks['classification_to_generation']:+.1f}, generation → classification "
        f"{blocks['generation_to_classification']:+.1f} (difference {blocks['difference']:+.1f})"
    ]


def length_section(corr_csv: str, lengths_csv: str | None = None) -> list[str]:
    corr = pd.read_csv(corr_csv)
    pooled = corr[corr.target == "all"]
    items = ", ".join(
        f"{r.measure} ρ = {r.rho:.2f} (p = {r.p_value:.3f}, n = {r.n})" for r in pooled.itertuples()
    )
    return [
        "### Output length vs transfer (Spearman with Δ, pooled over generation targets)",
        "",
        f"- {items}",
        *(interpolation_section(lengths_csv) if lengths_csv else [""]),
    ]


def interpolation_section(lengths_csv: str) -> list[str]:
    table = pd.read_csv(lengths_csv)
    sub = table[table.source != "base"].dropna(subset=["interpolation"])
    items = ", ".join(f"{r.source} → {r.target} {r.interpolation:.2f}" for r in sub.itertuples())
    return [
        "- length interpolation (0 = base model's mean length, 1 = the source's training targets'): "
        + (items or "no adapter whose source differs from the base by a word or more"),
        "",
    ]


def dependency_section(table_csv: str) -> list[str]:
    table = pd.read_csv(table_csv)
    lines = [
        "### Dependency relations (largest success ratio per adapter, n ≥ min_count prompts; "
        "relations found in every prompt left out, as in the figure)",
        "",
    ]
    for target, sub in table.groupby("target", sort=False):
        sub = sub[sub.n_prompts < sub.n_prompts.max()].dropna(subset=["success_ratio"])
        if sub.empty:
            lines.append(f"- {target}: no relation with a defined ratio in only part of the prompts")
            continue
        best = sub.loc[sub.groupby("source", sort=False)["success_ratio"].idxmax()]
        items = ", ".join(f"{r.source}: {r.relation} {r.success_ratio:.2f}" for r in best.itertuples())
        lines.append(f"- {target}: {items}")
    return lines + [""]


def flips_section(counts_csv: str, n_top: int) -> list[str]:
    counts = pd.read_csv(counts_csv)
    lines = [
        "### Inside the cells (examples flipped vs the base model; every adapter x target cell)",
        "",
        f"- {int(counts.gains.sum())} gains (wrong → right) and {int(counts.losses.sum())} losses "
        f"(right → wrong) over {len(counts)} cells; results/analysis/*/flips/examples.csv lists them",
    ]
    for column, title in (("gains", "most gains"), ("losses", "most losses")):
        top = counts.nlargest(n_top, column)
        items = ", ".join(
            f"{r.adapter} → {r.target} +{r.gains}/−{r.losses} of {r.n}" for r in top.itertuples()
        )
        lines.append(f"- {title}: {items}")
    return lines + [""]


def generated_labels_section(dist_csv: str) -> list[str]:
    dist = pd.read_csv(dist_csv)
    lines = ["### Labels parsed from generated answers (share of [invalid] answers, top label)", ""]
    for target, sub in dist[dist.kind == "generated"].groupby("target", sort=False):
        items = []
        for adapter, part in sub.groupby("adapter", sort=False):
            invalid = part.loc[part.label == "[invalid]", "fraction"].sum()
            top = part[part.label != "[invalid]"].nlargest(1, "fraction").iloc[0]
            items.append(f"{adapter} {100 * invalid:.0f}% invalid, {top.label} {100 * top.fraction:.0f}%")
        lines.append(f"- {target}: " + "; ".join(items))
    return lines + [""]


def mislabel_section(table_csv: str) -> list[str]:
    table = pd.read_csv(table_csv)
    lines = ["### Clean vs mislabeled sources (scores in points; harm = mislabeled − clean)", ""]
    for variant, sub in table.groupby("variant", sort=False):
        own, other = sub[sub.kind == "direct"], sub[sub.kind != "direct"]
        parts = [
            f"on {r.target} (own task) {r.score_clean:.1f} → {r.score_mislabeled:.1f} ({r.harm:+.1f})"
            for r in own.itertuples()
        ]
        if len(other):
            worst = other.loc[other.harm.abs().idxmax()]
            parts.append(
                f"on the {len(other)} other targets mean harm {other.harm.mean():+.1f}, "
                f"largest |harm| {abs(worst.harm):.1f} on {worst.target}"
            )
        lines.append(f"- {variant} vs {sub.clean.iloc[0]}: " + "; ".join(parts))
    return lines + [""]


def write(
    model_inputs: dict[str, dict],
    settings: dict,
    out_path: str,
    roots: dict | None = None,
    collections: dict[str, dict] | None = None,
) -> str:
    """Write the Markdown summary; `model_inputs` maps model -> named input paths; `roots` maps
    dataset -> root dataset (pair kinds, `analysis.common`); `collections` maps a collection of
    the transfer-roles analyses (`all_models`, `external`) -> named input paths."""
    from transfer_atlas.analysis.transfer_roles.summary import section

    lines = [
        "# transfer-atlas: key numbers",
        "",
        "Scores in points of each target's primary metric (0-100); Δ = adapter − base.",
        "",
    ]
    for model, paths in model_inputs.items():
        lines += [f"## {model}", ""]
        if paths.get("naming"):
            lines += pca_section(paths["explained_variance"], paths["naming"], settings["n_pcs"])
        else:
            lines += ["### Latent traits", "", f"- not run: {SKIPPED['pca']}", ""]
        lines += transfer_section(paths["delta"], settings["n_top"], roots)
        if paths.get("flips"):
            lines += flips_section(paths["flips"], settings["n_top"])
        if paths.get("mantel"):
            lines += mantel_section(paths["mantel"])
        else:
            lines += [
                "### Does dataset similarity explain transfer?",
                "",
                f"- not run: {SKIPPED['mantel']}",
                "",
            ]
        if paths.get("asymmetry_pairs"):
            lines += asymmetry_section(
                paths["asymmetry_pairs"], paths["asymmetry_summary"], settings["n_top"]
            )
        if paths.get("generated_labels"):
            lines += generated_labels_section(paths["generated_labels"])
        if paths.get("mislabel"):
            lines += mislabel_section(paths["mislabel"])
        if paths.get("length_correlation"):
            lines += length_section(paths["length_correlation"], paths.get("lengths"))
        if paths.get("dependency"):
            lines += dependency_section(paths["dependency"])
        if paths.get("predict"):
            lines += predict_summary_lines(paths["predict"])
    if collections:
        lines += ["## Donors and recipients", ""]
        for collection, paths in collections.items():
            lines += section(collection, paths)
            if paths.get("predict"):
                lines += predict_summary_lines(paths["predict"], f"{collection} results")
    matrices = {m: p["provenance"] for m, p in model_inputs.items() if p.get("provenance")}
    lines += provenance.markdown(matrices)
    text = "\n".join(lines)
    io.write_text(out_path, text)
    return text
