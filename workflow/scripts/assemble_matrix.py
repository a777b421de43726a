"""Snakemake adapter: score files -> long table, matrix, delta matrix, heatmap."""

from transfer_atlas import matrix, runtime

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {k: smk.output[k] for k in ("long", "cells", "matrix", "delta", "heatmap", "provenance")}
matrix.assemble(list(smk.input), smk.params.sources, smk.params.targets, out)
