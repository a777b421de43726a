"""Snakemake adapter: score the base model or one adapter on one target."""

from transfer_atlas import config, evaluate, io, runtime, settings

smk = snakemake  # noqa: F821
runtime.setup(smk)
cfg = settings.job_settings(smk, "evaluate")
dtype = cfg.pop("dtype")
source, _, seed = smk.wildcards.adapter.partition("/seed")
evaluate.evaluate_cell(
    io.read_json(smk.input.model),
    smk.input.adapter or None,
    smk.input.eval,
    config.dataset_card(smk.config, smk.wildcards.target),
    cfg,
    smk.output.predictions,
    smk.output.score,
    meta={
        "model": smk.wildcards.model,
        "adapter": source,
        "seed": int(seed) if seed else None,
        "target": smk.wildcards.target,
    },
    dtype=dtype,
)
