"""Snakemake adapter: score the base model or one adapter on every target, loading it once."""

from transfer_atlas import evaluate, io, runtime
from transfer_atlas.tasks import load_card

smk = snakemake  # noqa: F821
runtime.setup(smk)
source, _, seed = smk.wildcards.adapter.partition("/seed")
meta = {"model": smk.wildcards.model, "adapter": source, "seed": int(seed) if seed else None}
cells = [
    {
        "eval_path": eval_path,
        "card": load_card(smk.params.tasks[target], smk.params.card_overrides[target]),
        "predictions": predictions,
        "score": score,
        "meta": meta | {"target": target},
    }
    for target, eval_path, predictions, score in zip(
        smk.params.targets, smk.input.evals, smk.output.predictions, smk.output.scores, strict=True
    )
]
evaluate.evaluate_row(
    io.read_json(smk.input.model),
    smk.input.adapter or None,
    cells,
    dict(smk.params.evaluate),
    smk.params.dtype,
)
