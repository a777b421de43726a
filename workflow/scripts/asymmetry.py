"""Snakemake adapter: antisymmetric part of the transfer matrix, ranked pairs, task-type blocks."""

from transfer_atlas import runtime
from transfer_atlas.analysis import asymmetry

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = dict(smk.output.items())
asymmetry.run(smk.input[0], smk.wildcards.model, out, dict(smk.params.roots), dict(smk.params.types))
