"""Snakemake adapter: spaCy style features of every dataset -> cosine similarity + heatmap."""

from transfer_atlas import runtime
from transfer_atlas.analysis import similarity

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {k: smk.output[k] for k in ("features", "similarity", "heatmap")}
similarity.run_style(list(smk.input), smk.params.datasets, smk.params.standardize, out)
