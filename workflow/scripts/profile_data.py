"""Snakemake adapter: size, label distribution and token lengths of one dataset."""

from transfer_atlas import data, io, models, runtime

smk = snakemake  # noqa: F821
runtime.setup(smk)
tokenizers = {}
for path in smk.input.models:
    info = io.read_json(path)
    tokenizers[info["name"]] = models.load_tokenizer(info)
io.write_json(
    smk.output[0],
    {"dataset": smk.wildcards.dataset, **data.profile(smk.input.train, smk.input.eval, tokenizers)},
)
