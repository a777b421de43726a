"""Snakemake adapter: confusion matrices and label distributions of the classification targets."""

from transfer_atlas import runtime
from transfer_atlas.analysis import classes

smk = snakemake  # noqa: F821
runtime.setup(smk)
profiles = dict(zip(smk.params.sources, smk.input.profiles, strict=True))
out = {k: smk.output[k] for k in ("confusion", "distribution", "shift")}
out |= {k: list(smk.output[k]) for k in ("confusion_figures", "distribution_figures")}
classes.run(list(smk.input.scores), profiles, smk.input.delta, smk.wildcards.model, smk.params.targets, out)
