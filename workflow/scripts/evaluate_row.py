"""Snakemake adapter: score the base model or one adapter on every target, loading it once."""

from transfer_atlas import config, evaluate, io, provenance, runtime, settings

smk = snakemake  # noqa: F821
runtime.setup(smk)
cfg = settings.job_settings(smk, "evaluate")
dtype = cfg.pop("dtype")
source, _, seed = smk.wildcards.adapter.partition("/seed")
meta = {"model": smk.wildcards.model, "adapter": source, "seed": int(seed) if seed else None}
targets = config.targets(smk.config)
cells = [
    {
        "eval_path": eval_path,
        "card": config.dataset_card(smk.config, target),
        "predictions": predictions,
        "score": score,
        "meta": meta | {"target": target},
        "settings_sha256": provenance.cell_settings_hash(
            smk.config, smk.wildcards.model, target, dict(smk.params.settings), smk.input.adapter or None
        ),
    }
    for target, eval_path, predictions, score in zip(
        targets, smk.input.evals, smk.output.predictions, smk.output.scores, strict=True
    )
]
evaluate.evaluate_row(io.read_json(smk.input.model), smk.input.adapter or None, cells, cfg, dtype)
