"""Snakemake adapter: regimes, donors and recipients of every model and their agreement."""

from transfer_atlas import runtime
from transfer_atlas.analysis.transfer_roles import all_models

smk = snakemake  # noqa: F821
runtime.setup(smk)
all_models.run(list(smk.input), dict(smk.params.settings), smk.params.seed, dict(smk.output.items()))
