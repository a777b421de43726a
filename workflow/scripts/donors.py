"""Snakemake adapter: donor and recipient scores, group heatmaps and scatter of one model."""

from transfer_atlas import runtime
from transfer_atlas.analysis.transfer_roles import donors

smk = snakemake  # noqa: F821
runtime.setup(smk)
donors.run(
    smk.input[0], smk.wildcards.model, dict(smk.params.settings), dict(smk.output.items()), smk.params.seed
)
