"""Snakemake adapter: label-wise prompt lengths of the classification datasets."""

from transfer_atlas import runtime
from transfer_atlas.analysis import classes

smk = snakemake  # noqa: F821
runtime.setup(smk)
classes.run_input_lengths(
    list(smk.input), smk.params.datasets, {"table": smk.output.table, "figure": smk.output.figure}
)
