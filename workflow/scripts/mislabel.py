"""Snakemake adapter: clean vs mislabeled sources on every target."""

from transfer_atlas import runtime
from transfer_atlas.analysis import mislabel

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {"table": smk.output.table, "figure": smk.output.figure}
mislabel.run(smk.input[0], dict(smk.params.datasets), list(smk.params.sources), smk.wildcards.model, out)
