"""Snakemake adapter: build one split (train or eval) of one dataset's records."""

from transfer_atlas import data, runtime

smk = snakemake  # noqa: F821
runtime.setup(smk)
data.prepare_split(smk.params.spec, smk.wildcards.split, smk.output[0])
