"""Snakemake adapter: sentence embeddings of a sample of one dataset's training prompts."""

from transfer_atlas import runtime, settings
from transfer_atlas.analysis import similarity

smk = snakemake  # noqa: F821
runtime.setup(smk)
cfg = settings.job_settings(smk, "analysis.semantic")
similarity.run_embed(
    smk.input[0],
    smk.output.vectors,
    smk.output.ids,
    cfg["sample_size"],
    smk.params.seed,
    cfg["batch_size"],
    cfg["max_length"],
)
