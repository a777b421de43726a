"""Provenance records: versions from package metadata, the checkout's commit, settings hashes."""

from __future__ import annotations

import subprocess
from importlib import metadata

from tests.conftest import ROOT
from transfer_atlas import provenance
from transfer_atlas.settings import settings_hash


def test_record_names_versions_commit_and_settings():
    rec = provenance.record("0123abcd")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert rec["git"]["commit"] == head.stdout.strip() and isinstance(rec["git"]["dirty"], bool)
    assert rec["packages"]["torch"] == metadata.version("torch")
    assert rec["packages"]["peft"] == metadata.version("peft")
    assert set(rec["packages"]) == {"torch", "transformers", "peft", "datasets", "lm_eval"}
    assert rec["settings_sha256"] == "0123abcd" and rec["transfer_atlas"] == "0.1.0"


def test_git_state_outside_a_checkout_is_none(tmp_path):
    assert provenance.git_state(str(tmp_path)) is None


def test_settings_hash_ignores_key_order_and_sees_values():
    assert settings_hash({"lr": 0.1, "r": 8}) == settings_hash({"r": 8, "lr": 0.1})
    assert settings_hash({"lr": 0.1, "r": 8}) != settings_hash({"lr": 0.2, "r": 8})
