"""The GPU benchmark's model path works on CPU at toy scale (the GPU run itself is recorded in perf/)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from perf.bench import random_llama


def test_random_llama_has_the_configured_shape(tmp_path, tiny_model_dir):
    config = tmp_path / "shape.json"
    config.write_text(
        json.dumps(
            {
                "_comment": "x",
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "head_dim": 16,
                "tie_word_embeddings": True,
                "vocab_size": 128256,
            }
        )
    )
    info = random_llama({"load_path": str(tiny_model_dir)}, config)
    from transfer_atlas.models import load_model, load_tokenizer

    model, tok = load_model(info, "bfloat16"), load_tokenizer(info)
    assert model.config.hidden_size == 64 and model.config.vocab_size == 128256 > len(tok)  # full vocabulary
    assert next(model.parameters()).dtype == torch.bfloat16
    ids = tok("Question: 2 + 2?", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], 128256)


@pytest.mark.parametrize("name", ["H100 80GB HBM3", "NVIDIA H200"])
def test_peak_table_knows_hopper(name, monkeypatch):
    from perf import bench

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: name)
    assert bench.mfu(494.5e12) == pytest.approx(0.5)


def test_bench_runs_end_to_end_and_writes_the_record(tmp_path, tiny_model_dir):
    """bench.py at toy sizes: both paths run, the record has the issue's fields."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    args = [
        "--model-dir",
        str(tiny_model_dir),
        "--out-dir",
        str(tmp_path),
        "--train-steps",
        "2",
        "--batch",
        "2",
    ]
    args += ["--n-gen", "2", "--n-score", "2", "--naive-n", "2", "--new-tokens", "3", "--eval-batch", "2"]
    args += ["--sweep-batches", "1,2"]
    proc = subprocess.run(
        [sys.executable, str(root / "perf" / "bench.py"), *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.glob("cpu-*.json")
    record = json.loads(path.read_text())
    fields = ["train_tokens_per_s", "train_mfu", "train_peak_gib", "generate_tokens_per_s", "score_mfu"]
    assert all(f in record and f in record["baseline"] for f in fields)
    assert set(record["speedup"]) == {"train", "generate", "score"} and record["device"]
    assert record["identical_generations"] is True and record["max_logprob_abs_diff"] < 1e-4
    assert [r["batch"] for r in record["generate_sweep"]] == [1, 2]
    assert all(r["identical_to_default"] for r in record["generate_sweep"])
    best = max(r["generate_tokens_per_s"] for r in record["generate_sweep"])
    assert record["best_generate_tokens_per_s"] == max(best, record["generate_tokens_per_s"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
@pytest.mark.parametrize("cmd", [["python", "perf/gpu_check.py"], ["bash", "perf/run_gpu.sh"]])
def test_gpu_scripts_refuse_to_run_on_a_cpu(cmd):
    root = Path(__file__).resolve().parents[1]
    if cmd[0] == "python":
        cmd = [sys.executable, *cmd[1:]]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0 and "CUDA is not available" in proc.stderr
    assert f"torch {torch.__version__}" in proc.stderr or torch.__version__ in proc.stdout


def test_memory_check_measures_every_phase_at_toy_size(tmp_path, tiny_model_dir):
    """perf/memory_check.py on the tiny model: the cache estimate is exact, the saved-tensor
    count close, and every phase's allocated peak is measured (> 0) and written."""
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "perf" / "memory_check.py"), "--model-dir", str(tiny_model_dir)]
    cmd += ["--rows", "2", "--width", "64", "--eval-rows", "2", "--prompt", "32", "--new", "8"]
    subprocess.run([*cmd, "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    (path,) = tmp_path.glob("memory-check-*.json")
    record = json.loads(path.read_text())
    assert record["generate"]["error"]["kv_bytes"] == 0
    assert abs(record["train"]["error"]["saved_bytes"]) < 0.15
    assert all(record[p]["measured"]["allocated"] > 0 for p in ("train", "score", "generate"))
