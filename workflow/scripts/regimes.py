"""Snakemake adapter: pairs table and regime summary (MT-ML / MT-CL / CT-ML / CT-CL) of one model."""

from transfer_atlas import runtime
from transfer_atlas.analysis.transfer_roles import regimes

smk = snakemake  # noqa: F821
runtime.setup(smk)
regimes.run(
    smk.input[0],
    smk.wildcards.model,
    dict(smk.params.roles),
    dict(smk.params.settings),
    smk.params.seed,
    dict(smk.output.items()),
    dict(smk.params.meta),
)
