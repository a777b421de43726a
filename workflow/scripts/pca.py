"""Snakemake adapter: PCA of the transfer matrix with a bootstrap over evaluation examples."""

from transfer_atlas import runtime
from transfer_atlas.analysis import pca

smk = snakemake  # noqa: F821
runtime.setup(smk)
settings = {**smk.params.pca, "seed": smk.params.seed}
out = dict(smk.output.items())
pca.run(smk.input.delta, list(smk.input.predictions), settings, smk.wildcards.model, out, smk.params.rows)
