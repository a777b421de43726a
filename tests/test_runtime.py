"""Device rules: GPU jobs fail at start without CUDA, one GPU per local job, device info."""

import os
import types

import pytest
import torch

from transfer_atlas import runtime


def _smk(tmp_path, gpu):
    return types.SimpleNamespace(
        log=[str(tmp_path / "x.log")], threads=1, rule="train_lora", resources=types.SimpleNamespace(gpu=gpu)
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_gpu_rule_fails_at_start_naming_torch_and_cuda_build(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(runtime.DeviceError) as err:
        runtime.setup(_smk(tmp_path, 1))
    text = str(err.value)
    assert "rule 'train_lora' declares gpu=1" in text and f"torch {torch.__version__}" in text
    assert ("CPU-only build" in text) == (torch.version.cuda is None)


def test_cpu_rule_starts_and_logs_device(tmp_path, monkeypatch):
    runtime.setup(_smk(tmp_path, 0))
    info = runtime.device_info()
    assert info["torch"] == torch.__version__ and info["cuda_build"] == torch.version.cuda
    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert info["gpu_count"] == len(info["gpu_names"])


def test_visible_gpus_reads_the_environment(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 5")
    assert runtime.visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert runtime.visible_gpus() == []


def test_each_local_job_claims_its_own_gpu(tmp_path, monkeypatch):
    """Two jobs on a 2-GPU node get GPU 0 and GPU 1; a third finds none free."""
    monkeypatch.setattr(runtime, "_HELD", [])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert runtime.claim_gpus(1, tmp_path) == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # a second job's process sees both
    assert runtime.claim_gpus(1, tmp_path) == ["1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(runtime.DeviceError, match="only 0 of the visible GPUs"):
        runtime.claim_gpus(1, tmp_path)
    runtime._HELD.pop().close()  # job 2 ends: its GPU is free again
    assert runtime.claim_gpus(1, tmp_path) == ["1"]
    for fh in runtime._HELD:
        fh.close()
