"""Snakemake adapter: build one dataset's train/eval records."""

from transfer_atlas import data, runtime

runtime.setup(snakemake)  # noqa: F821
data.prepare(snakemake.params.spec, snakemake.output.train, snakemake.output.eval)  # noqa: F821
