"""Snakemake adapter: score the base model or one adapter on one target."""

from transfer_atlas import evaluate, io, runtime
from transfer_atlas.tasks import load_card

smk = snakemake  # noqa: F821
runtime.setup(smk)
adapter = smk.wildcards.adapter
source, _, seed = adapter.partition("/seed")
evaluate.evaluate_cell(
    io.read_json(smk.input.model),
    smk.input.adapter or None,
    smk.input.eval,
    load_card(smk.params.task, smk.params.card_overrides),
    dict(smk.params.evaluate),
    smk.output.predictions,
    smk.output.score,
    meta={
        "model": smk.wildcards.model,
        "adapter": source,
        "seed": int(seed) if seed else None,
        "target": smk.wildcards.target,
    },
    dtype=smk.params.dtype,
)
