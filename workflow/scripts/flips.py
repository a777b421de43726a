"""Snakemake adapter: examples flipped by each adapter vs the base model, per cell."""

from transfer_atlas import runtime
from transfer_atlas.analysis import flips

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {k: smk.output[k] for k in ("counts", "figure", "examples", "page")}
flips.run(list(smk.input.predictions), smk.wildcards.model, out, dict(smk.params.flips))
