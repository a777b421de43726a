"""Result settings vs execution settings: which config keys may rerun work.

Every key of workflow/schemas/config.schema.yaml has a role, `x-role` in the schema
(inherited from the enclosing key when absent):
  result     defines the numbers (model, data, LoRA recipe, seeds, prompt, metric, analysis
             maths): passed to the rules as params, so Snakemake reruns what depends on it;
  display    what a table or figure lists: params of the analysis/report job that shows it;
  execution  how, never what (batch sizes, fast paths, checkpoint interval, threads,
             resources, job mode): never a param; a job reads it from the workflow config
             at run time, so changing it reruns nothing.

A rule passes `rerun_settings(config, section)` as params; its script calls
`job_settings(smk, section)` to get the full section back.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

import yaml

ROLES = ("result", "display", "execution")


@functools.cache
def roles() -> dict[str, str]:
    """{dotted key: role} of every key in the schema (array items share their key's path)."""
    from transfer_atlas.config import SCHEMA

    schema = yaml.safe_load(SCHEMA.read_text())
    out: dict[str, str] = {}

    def walk(node: dict, prefix: str, inherited: str | None) -> None:
        for key, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{key}"
            role = sub.get("x-role", inherited)
            out[path] = role
            walk(sub, path + ".", role)

    walk(schema, "", None)
    return out


def role(path: str) -> str:
    """Role of a dotted config key such as `train.lr`; KeyError for a key the schema lacks."""
    found = roles()[path]
    if found not in ROLES:
        raise ValueError(f"schema key '{path}' has no valid x-role (got {found!r})")
    return found


def rerun_settings(config: dict, section: str) -> dict[str, Any]:
    """The result and display keys of `config[section]` (dotted section, e.g. `analysis.pca`)."""
    values = _section(config, section)
    return {k: v for k, v in values.items() if role(f"{section}.{k}") != "execution"}


def execution_settings(config: dict, section: str) -> dict[str, Any]:
    values = _section(config, section)
    return {k: v for k, v in values.items() if role(f"{section}.{k}") == "execution"}


def job_settings(smk, section: str, param: str = "settings") -> dict[str, Any]:
    """What a job runs with: the rerun settings it received as `params[param]` plus the
    execution settings of `section`, read from the workflow config at run time."""
    return {**execution_settings(smk.config, section), **dict(smk.params[param])}


def settings_hash(settings: Any) -> str:
    """sha256 (hex, first 16 digits) of the canonical JSON of `settings`."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _section(config: dict, section: str) -> dict:
    node = config
    for part in section.split("."):
        node = node.get(part) or {}
    return dict(node)
