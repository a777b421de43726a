"""Snakemake adapter: estimate every GPU job's peak memory and runtime; fail if one does not fit."""

from pathlib import Path

from transfer_atlas import preflight, runtime
from transfer_atlas.config import resolve_datasets

smk = snakemake  # noqa: F821
runtime.setup(smk)
config = smk.config
profiles = {Path(p).parent.name: p for p in smk.input.profiles}
preflight.run(config, resolve_datasets(config), preflight.model_shapes(config), profiles, smk.output[0])
