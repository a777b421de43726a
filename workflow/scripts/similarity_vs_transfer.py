"""Snakemake adapter: Spearman + Mantel test of each similarity matrix vs the delta matrix."""

from transfer_atlas import runtime
from transfer_atlas.analysis import mantel

smk = snakemake  # noqa: F821
runtime.setup(smk)
settings = {**smk.params.mantel, "seed": smk.params.seed}
out = {k: smk.output[k] for k in ("stats", "pairs", "scatter")}
sims = {"style": smk.input.style, "semantic": smk.input.semantic}
mantel.run(sims, smk.input.delta, settings, smk.wildcards.model, out, dict(smk.params.roots))
