"""Snakemake adapter: score the base model or one adapter on one target."""

from transfer_atlas import config, evaluate, io, provenance, runtime, settings

smk = snakemake  # noqa: F821
runtime.setup(smk)
cfg = settings.job_settings(smk, "evaluate")
dtype = cfg.pop("dtype")
adapter_dir, target = smk.input.adapter or None, smk.wildcards.target
sha = provenance.cell_settings_hash(
    smk.config, smk.wildcards.model, target, dict(smk.params.settings), adapter_dir
)
source, _, seed = smk.wildcards.adapter.partition("/seed")
evaluate.evaluate_cell(
    io.read_json(smk.input.model),
    adapter_dir,
    smk.input.eval,
    config.dataset_card(smk.config, target),
    cfg,
    smk.output.predictions,
    smk.output.score,
    meta={
        "model": smk.wildcards.model,
        "adapter": source,
        "seed": int(seed) if seed else None,
        "target": target,
    },
    dtype=dtype,
    settings_sha256=sha,
)
