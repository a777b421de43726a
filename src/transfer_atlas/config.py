"""Config loading: schema validation (with defaults) and the checks a schema cannot express.

One validator for everyone: the Snakefile, scripts and tests all call `validate_config`
(or `load_config`, which reads a file and calls it). The schema's `$schema` line picks the
JSON Schema draft (Snakemake's own `validate` always uses draft 2020-12 and warns on a
draft-07 schema, so the workflow does not use it). Validation prints nothing when it
passes; a failure raises `ConfigError` naming the config file(s) and the key.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from pathlib import Path
from typing import Any

import yaml

from transfer_atlas.tasks import TaskError, load_card

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config problem; the message names the key."""


def _extend_with_defaults(validator_class):
    from jsonschema import validators

    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for prop, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub and prop not in instance:
                instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def validate_schema(config: dict, source: str = "config") -> dict:
    """Validate against the schema, filling defaults in place; raise ConfigError naming the key."""
    from jsonschema.validators import validator_for

    schema = yaml.safe_load(SCHEMA.read_text())
    draft = validator_for(schema, default=None)
    if draft is None:
        raise ConfigError(f"{SCHEMA}: unknown JSON Schema draft {schema.get('$schema')!r}")
    draft.check_schema(schema)
    validator = _extend_with_defaults(draft)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: key '{key}': {err.message}")
    return config


def validate_config(config: dict, source: str | os.PathLike | list = "config") -> dict:
    """Schema (defaults filled in place) then the checks a schema cannot express.

    `source` names the config in error messages: a path, or the list of config files
    Snakemake merged (`workflow.overwrite_configfiles or workflow.configfiles`).
    Returns `config`; raises ConfigError naming the source and the key.
    """
    if isinstance(source, list | tuple):
        source = ", ".join(str(s) for s in source) or "config"
    validate_schema(config, str(source))
    check_config(config, str(source))
    return config


def load_config(path: str | os.PathLike) -> dict:
    config = yaml.safe_load(Path(path).read_text()) or {}
    return validate_config(config, str(path))


def expand_languages(entries: list[dict]) -> list[dict]:
    """One entry per (dataset, language) for entries with `languages`; names `{name}.{lang}`."""
    out = []
    for entry in entries:
        langs = entry.get("languages")
        if not langs:
            out.append(dict(entry))
            continue
        for lang in langs:
            child = {k: v for k, v in entry.items() if k != "languages"}
            child.update(name=f"{entry['name']}.{lang}", language=lang)
            if "variant_of" in entry:
                child["variant_of"] = f"{entry['variant_of']}.{lang}"
            out.append(child)
    return out


def resolve_datasets(config: dict, source: str = "config") -> dict[str, dict]:
    """Ordered {name: fully resolved dataset spec}; variants inherit from their parent."""
    entries = expand_languages(config["datasets"])
    by_name: dict[str, dict] = {}
    for i, entry in enumerate(entries):
        name = entry["name"]
        if name == "base":
            raise ConfigError(f"{source}: key 'datasets.{i}.name': 'base' is reserved for the base model")
        if name in by_name:
            raise ConfigError(f"{source}: key 'datasets.{i}.name': duplicate dataset name '{name}'")
        by_name[name] = entry

    def resolve(name: str, seen: tuple[str, ...]) -> dict:
        entry = by_name[name]
        parent = entry.get("variant_of")
        if parent is None:
            return dict(entry)
        if parent not in by_name:
            raise ConfigError(
                f"{source}: key 'datasets.{name}.variant_of': dataset '{parent}' is not defined"
            )
        if parent in seen:
            raise ConfigError(f"{source}: key 'datasets.{name}.variant_of': cycle {' -> '.join(seen)}")
        merged = resolve(parent, seen + (name,))
        merged.update({k: v for k, v in entry.items() if k != "variant_of"})
        merged["parent"] = parent
        return merged

    resolved = {}
    for name in by_name:
        spec = resolve(name, (name,))
        if spec.get("lm_eval_task"):
            spec.setdefault("task", "lm_eval")
            _check_harness_task(spec, name, source)
        if spec.get("task") == "lm_eval" and not spec.get("lm_eval_task"):
            raise ConfigError(
                f"{source}: key 'datasets.{name}.lm_eval_task': task 'lm_eval' needs a harness task name"
            )
        if "task" not in spec:
            raise ConfigError(f"{source}: key 'datasets.{name}.task': missing (and no variant_of)")
        resolved[name] = spec
    return resolved


def _check_model(model: dict, i: int, source: str) -> None:
    given = [k for k in ("gguf_package", "gguf_file", "hub_id", "path") if k in model]
    key = f"models.{i}"
    if len(given) != 1:
        raise ConfigError(f"{source}: key '{key}': give exactly one of gguf_package, gguf_file, hub_id, path")
    kind = given[0]
    if kind == "path" and not Path(model["path"]).is_dir():
        raise ConfigError(f"{source}: key '{key}.path': folder '{model['path']}' does not exist")
    if kind == "gguf_file" and not Path(model["gguf_file"]).is_file():
        raise ConfigError(f"{source}: key '{key}.gguf_file': file '{model['gguf_file']}' does not exist")
    if kind == "gguf_package" and importlib.util.find_spec(model["gguf_package"]) is None:
        raise ConfigError(
            f"{source}: key '{key}.gguf_package': package '{model['gguf_package']}' is not installed"
        )


def _check_harness_task(spec: dict, name: str, source: str) -> None:
    from transfer_atlas.harness_task import UnknownHarnessTask, check_task

    include = spec.get("lm_eval_include")
    if include and not Path(include).is_dir():
        raise ConfigError(
            f"{source}: key 'datasets.{name}.lm_eval_include': folder '{include}' does not exist"
        )
    try:
        check_task(spec["lm_eval_task"], include)
    except UnknownHarnessTask as err:
        raise ConfigError(f"{source}: key 'datasets.{name}.lm_eval_task': {err}") from None


def check_config(config: dict, source: str = "config") -> None:
    """Checks beyond the schema: names, tasks, files, sources/targets."""
    names = [m["name"] for m in config["models"]]
    for i, model in enumerate(config["models"]):
        if names.count(model["name"]) > 1:
            raise ConfigError(f"{source}: key 'models.{i}.name': duplicate model name '{model['name']}'")
        _check_model(model, i, source)
    datasets = resolve_datasets(config, source)
    for name, spec in datasets.items():
        try:
            load_card(spec["task"], card_overrides(spec))
        except TaskError as err:
            raise ConfigError(f"{source}: key 'datasets.{name}.task': {err}") from None
        for key in ("path", "train_path", "eval_path"):
            if key in spec and not Path(spec[key]).exists():
                raise ConfigError(f"{source}: key 'datasets.{name}.{key}': '{spec[key]}' does not exist")
    for key in ("sources", "targets"):
        for i, name in enumerate(config.get(key) or []):
            if name not in datasets:
                raise ConfigError(f"{source}: key '{key}.{i}': dataset '{name}' is not defined")


def card_overrides(spec: dict) -> dict[str, Any]:
    """Dataset-level overrides of the task card (prompt template, few-shot, language)."""
    out = {k: spec.get(k) for k in ("template", "fewshot", "language")}
    if spec.get("lm_eval_task"):
        out["lm_eval"] = {
            "task": spec["lm_eval_task"],
            "include": spec.get("lm_eval_include"),
            "split": spec.get("lm_eval_split"),
            "limit": spec.get("n_eval"),
        }
    return out


def dataset_card(config: dict, name: str):
    """The task card of dataset `name` with its dataset-level overrides."""
    spec = resolve_datasets(config)[name]
    return load_card(spec["task"], card_overrides(spec))


def sources(config: dict) -> list[str]:
    return list(config.get("sources") or resolve_datasets(config))


def targets(config: dict) -> list[str]:
    return list(config.get("targets") or resolve_datasets(config))


def model_spec(config: dict, name: str) -> dict:
    for model in config["models"]:
        if model["name"] == name:
            return model
    raise ConfigError(f"config: model '{name}' is not defined")
