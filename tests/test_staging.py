"""Staged hub models: one download at a pinned or resolved revision, hashed, loaded offline."""

from __future__ import annotations

import fnmatch
import shutil

import huggingface_hub
import pytest

from transfer_atlas import io
from transfer_atlas.models import load_model, load_tokenizer, prepare_model

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def fake_hub(monkeypatch, tiny_model_dir):
    """snapshot_download copies the tiny model (plus files a job does not need) into local_dir,
    honouring allow/ignore patterns; model_info resolves `main` to SHA."""
    calls = []

    def snapshot_download(repo_id, *, revision, local_dir, allow_patterns, ignore_patterns, token):
        calls.append({"repo_id": repo_id, "revision": revision})
        files = [p for p in tiny_model_dir.iterdir() if p.is_file()]
        for name in ("pytorch_model.bin", "original/consolidated.00.pth"):
            files.append(name)
        for f in files:
            name = f if isinstance(f, str) else f.name
            allowed = any(fnmatch.fnmatch(name, p) for p in allow_patterns)
            if not allowed or any(fnmatch.fnmatch(name, p) for p in ignore_patterns):
                continue
            shutil.copy(f, f"{local_dir}/{name}")
        return local_dir

    class Api:
        def model_info(self, repo_id, revision=None, token=None):
            calls.append({"resolve": repo_id, "revision": revision})
            return type("Info", (), {"sha": SHA})()

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    return calls


def test_hub_model_is_staged_once_with_resolved_revision_and_hashes(tmp_path, fake_hub, monkeypatch):
    info = prepare_model({"name": "m", "hub_id": "org/tiny"}, tmp_path / "m" / "model_info.json")
    assert fake_hub == [{"resolve": "org/tiny", "revision": None}, {"repo_id": "org/tiny", "revision": SHA}]
    folder = tmp_path / "m" / "checkpoint"
    assert info["kind"] == "hub" and info["load_path"] == str(folder) and info["revision"] == SHA
    assert "model.safetensors" in info["files"] and "pytorch_model.bin" not in info["files"]
    assert info["files"]["config.json"] == io.sha256_file(folder / "config.json")
    assert info["weights_sha256"] == io.sha256_file(folder / "model.safetensors")
    assert io.read_json(tmp_path / "m" / "model_info.json") == info
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # later jobs: the local folder, no network
    model = load_model(info, "float32")
    assert load_tokenizer(info).eos_token_id is not None and model.config.vocab_size > 0


def test_pinned_revision_is_not_resolved(tmp_path, fake_hub):
    info = prepare_model(
        {"name": "m", "hub_id": "org/tiny", "revision": "v1.0"}, tmp_path / "model_info.json"
    )
    assert fake_hub == [{"repo_id": "org/tiny", "revision": "v1.0"}] and info["revision"] == "v1.0"
