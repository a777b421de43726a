"""Snakemake adapter: convert a GGUF model to a float checkpoint, or record a hub id / path."""

from transfer_atlas import models, runtime

runtime.setup(snakemake)  # noqa: F821
models.prepare_model(snakemake.params.spec, snakemake.output[0])  # noqa: F821
