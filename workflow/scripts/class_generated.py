"""Snakemake adapter: confusion matrices and label distributions from generated labels."""

from transfer_atlas import runtime
from transfer_atlas.analysis import classes

smk = snakemake  # noqa: F821
runtime.setup(smk)
out = {k: smk.output[k] for k in ("confusion", "distribution")}
out |= {k: list(smk.output[k]) for k in ("confusion_figures", "distribution_figures")}
classes.run_generated(list(smk.input.predictions), dict(smk.params.labels), smk.wildcards.model, out)
