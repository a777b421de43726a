"""Snakemake adapter: train one LoRA adapter for (model, source, seed)."""

from transfer_atlas import io, provenance, runtime, settings, train

smk = snakemake  # noqa: F821
runtime.setup(smk)
cfg = settings.job_settings(smk, "train")
dtype = cfg.pop("dtype")
train.train_lora(
    io.read_json(smk.input.model),
    smk.input.train,
    smk.output[0],
    smk.params.checkpoints,
    cfg,
    source=smk.wildcards.source,
    seed=int(smk.wildcards.seed),
    dtype=dtype,
    settings_sha256=provenance.adapter_settings_hash(
        smk.config, smk.wildcards.model, smk.wildcards.source, dict(smk.params.settings)
    ),
)
