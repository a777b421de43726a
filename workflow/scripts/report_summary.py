"""Snakemake adapter: key numbers of every analysis -> results/report/summary.md."""

from transfer_atlas import runtime
from transfer_atlas.analysis import summary

smk = snakemake  # noqa: F821
runtime.setup(smk)
summary.write(
    smk.params.paths,
    smk.params.settings,
    smk.output[0],
    dict(smk.params.roots),
    dict(smk.params.collections),
)
