"""Snakemake adapter: transfer prediction, validation and next sources of one model (or `external`)."""

from transfer_atlas import runtime
from transfer_atlas.analysis import predict

smk = snakemake  # noqa: F821
runtime.setup(smk)
settings, out, seed = dict(smk.params.settings), dict(smk.output.items()), smk.params.seed
if smk.wildcards.model == "external":
    predict.run_external(smk.input.table, settings, dict(smk.params.roles), seed, out, smk.input.languages)
else:
    inputs = {
        "deltas": dict(zip(smk.params.models, smk.input.deltas, strict=True)),
        "matrix": smk.input.matrix,
        "profiles": dict(zip(smk.params.described, smk.input.profiles, strict=True)),
        "style": smk.input.style,
        "semantic": smk.input.semantic,
        "languages": smk.input.languages,
    }
    predict.run(inputs, smk.wildcards.model, dict(smk.params.datasets), settings, seed, out)
