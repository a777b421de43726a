"""Snakemake adapter: parse one dataset's prompts with spaCy (train: a sample; eval: all)."""

from transfer_atlas import runtime
from transfer_atlas.analysis import similarity

smk = snakemake  # noqa: F821
runtime.setup(smk)
splits = [
    (smk.input.train, smk.output.train, smk.params.train_sample),
    (smk.input.eval, smk.output.eval, None),
]
similarity.run_parse(splits, smk.params.seed)
