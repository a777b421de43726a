"""Snakemake adapter: output-length distributions on the generation targets."""

from transfer_atlas import runtime
from transfer_atlas.analysis import length

smk = snakemake  # noqa: F821
runtime.setup(smk)
sources = dict(zip(smk.params.sources, smk.input.sources, strict=True))
references = dict(zip(smk.params.targets, smk.input.references, strict=True))
out = dict(smk.output.items())
length.run(
    list(smk.input.predictions),
    sources,
    references,
    smk.input.delta,
    smk.wildcards.model,
    out,
    dict(smk.params.roots),
)
