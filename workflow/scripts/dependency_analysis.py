"""Snakemake adapter: success ratio per dependency relation of the generation targets."""

from transfer_atlas import runtime
from transfer_atlas.analysis import dependency

smk = snakemake  # noqa: F821
runtime.setup(smk)
settings = {**smk.params.dependency, "seed": smk.params.seed}
parses = dict(zip(smk.params.targets, smk.input.parses, strict=True))
out = {"table": smk.output.table, "figures": list(smk.output.figures)}
dependency.run(parses, list(smk.input.predictions), settings, smk.wildcards.model, out)
