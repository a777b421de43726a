"""Snakemake adapter: across-model transfer-roles analyses of one collection of models."""

from transfer_atlas import runtime
from transfer_atlas.analysis.transfer_roles import across_models

smk = snakemake  # noqa: F821
runtime.setup(smk)
across_models.run(
    list(smk.input.pairs),
    smk.input.languages,
    smk.wildcards.collection,
    dict(smk.params.settings),
    smk.params.seed,
    dict(smk.output.items()),
)
