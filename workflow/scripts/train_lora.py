"""Snakemake adapter: train one LoRA adapter for (model, source, seed)."""

from transfer_atlas import io, runtime, train

smk = snakemake  # noqa: F821
runtime.setup(smk)
train.train_lora(
    io.read_json(smk.input.model),
    smk.input.train,
    smk.output[0],
    smk.params.checkpoints,
    dict(smk.params.train),
    source=smk.wildcards.source,
    seed=int(smk.wildcards.seed),
    dtype=smk.params.dtype,
)
