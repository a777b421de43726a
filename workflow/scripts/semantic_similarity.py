"""Snakemake adapter: mean prompt embeddings of every dataset -> cosine similarity + heatmap."""

from transfer_atlas import runtime
from transfer_atlas.analysis import similarity

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {k: smk.output[k] for k in ("similarity", "heatmap")}
similarity.run_semantic(list(smk.input), smk.params.datasets, out)
