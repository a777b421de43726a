"""Snakemake adapter: regimes, donors and recipients of every model and their agreement."""

from transfer_atlas import runtime
from transfer_atlas.analysis import donors

smk = snakemake  # noqa: F821
runtime.setup(smk)
donors.run_all_models(list(smk.input), dict(smk.params.settings), smk.params.seed, dict(smk.output.items()))
