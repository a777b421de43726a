"""End to end: snakemake on a tiny config; every output checked; incremental reruns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import HUB_TOKEN as TOKEN
from tests.conftest import dry_run_counts, read_json, tiny_config, write_config
from transfer_atlas import io

pytestmark = pytest.mark.slow

NEW = {"name": "arith_large", "task": "arith_large", "n_train": 24, "n_eval": 8, "seed": 4}


def test_every_output_matches_its_contract(tiny_run):
    work, _ = tiny_run
    res = work / "results"
    names = ["arith_small", "sentiment2", "paraphrase"]
    hashes: dict[str, set] = {}
    for name in names:
        prof = read_json(res / "data" / name / "profile.json")
        assert prof["splits"]["train"]["n"] == 24 and prof["splits"]["eval"]["n"] == 8
        assert prof["splits"]["train"]["tokens"]["tiny"]["prompt"]["mean"] > 5
    for adapter in ["base"] + [f"{n}/seed0" for n in names]:
        for target in names:
            score = read_json(res / "scores" / "tiny" / adapter / f"{target}.json")
            assert 0 <= score["value"] <= 100 and score["n"] == 8
            assert score["ci95"][0] <= score["value"] <= score["ci95"][1]
            assert score["target"] == target and score["adapter"] == adapter.split("/")[0]
            preds = [
                json.loads(x) for x in (res / "predictions" / "tiny" / adapter / f"{target}.jsonl").open()
            ]
            assert len(preds) == 8 and {
                "id",
                "prompt",
                "output",
                "gold",
                "correct",
                "n_output_tokens",
            } <= set(preds[0])
            assert score["value"] == pytest.approx(100 * sum(p["correct"] for p in preds) / 8)
            pred_file = res / "predictions" / "tiny" / adapter / f"{target}.jsonl"
            assert score["predictions_sha256"] == io.sha256_file(pred_file)
            made = score["provenance"]
            assert made["packages"]["torch"] and made["git"]["commit"] and made["device"] == "cpu"
            hashes.setdefault(adapter, set()).add(made["settings_sha256"])
            if target != "arith_small":
                assert sum(map(sum, score["confusion_matrix"])) == 8
                assert set(score["pred_distribution"]) == set(score["labels"])
    assert all(len(h) == 3 for h in hashes.values())  # one per target
    assert len(set.union(*hashes.values())) == 12  # every cell's settings differ (adapter or target)
    for name in names:
        adapter = res / "adapters" / "tiny" / name / "seed0"
        assert (adapter / "adapter_model.safetensors").exists() and (adapter / "adapter_config.json").exists()
        log = [json.loads(x) for x in (adapter / "train_log.jsonl").open()]
        assert [r["step"] for r in log] == [1, 2, 3, 4] and all(r["tokens_per_s"] > 0 for r in log)
        summary = read_json(adapter / "train_summary.json")
        assert summary["steps"] == 4 and summary["resumed_from_step"] == 0
        assert summary["provenance"]["settings_sha256"] and len(summary["fingerprint"]) == 16
    assert not any((res / "checkpoints").rglob("state.json"))  # deleted once the adapters exist


def test_matrix_files(tiny_run):
    work, _ = tiny_run
    mdir = work / "results" / "matrix" / "tiny"
    matrix = pd.read_csv(mdir / "matrix.csv", index_col="adapter")
    delta = pd.read_csv(mdir / "delta.csv", index_col="adapter")
    assert list(matrix.index) == ["base", "arith_small", "sentiment2", "paraphrase"]
    assert list(matrix.columns) == ["arith_small", "sentiment2", "paraphrase"]
    pd.testing.assert_frame_equal(delta, (matrix.iloc[1:] - matrix.loc["base"]).round(4), atol=1e-3)
    assert len(pd.read_csv(mdir / "scores_long.csv")) == 12
    assert (mdir / "delta_heatmap.png").stat().st_size > 5000
    made = read_json(mdir / "provenance.json")
    assert len(made["cells"]) == 12 and made["git"]["commit"] and made["device"].startswith("none")
    summary = (work / "results" / "report" / "summary.md").read_text()
    assert "## Provenance" in summary and made["settings_sha256"] in summary
    for rule in ("train_lora", "evaluate", "assemble_matrix"):
        assert any((work / "logs" / rule).rglob("*.log")) and any((work / "benchmarks" / rule).rglob("*.tsv"))


def test_hub_token_never_reaches_outputs_or_logs(tiny_run):
    work, _ = tiny_run
    files = [p for d in ("results", "logs", "benchmarks") for p in (work / d).rglob("*") if p.is_file()]
    assert len(files) > 50
    leaked = [p for p in files if TOKEN.encode() in p.read_bytes()]
    assert leaked == []


def test_nothing_left_to_do_after_a_run(tiny_run):
    work, cfg = tiny_run
    assert dry_run_counts(work, cfg) == {}


def test_adding_one_dataset_schedules_only_new_cells(tiny_run, tiny_model_dir):
    work, _ = tiny_run
    config = tiny_config(tiny_model_dir)
    config["datasets"].append(NEW)
    counts = dry_run_counts(work, write_config(work / "config_plus.yaml", config))
    n = 3  # datasets before; the new adapter on N+1 targets + N+1 old rows (base included) on the new target
    core = {
        "prepare_data": 2,  # its train and eval splits
        "profile_data": 1,
        "train_lora": 1,
        "evaluate": 2 * n + 2,
        "assemble_matrix": 1,
    }
    assert {rule: counts.get(rule) for rule in core} == core
    # everything else is an aggregate/analysis rule or a per-dataset cache of the new dataset: once each
    assert all(count == 1 for rule, count in counts.items() if rule not in core), counts


def test_row_jobs_score_every_target_of_an_adapter(tiny_run, tiny_model_dir):
    """evaluate.job: row gives one evaluate_row job per (model, adapter) that lacks a cell."""
    work, _ = tiny_run
    config = tiny_config(tiny_model_dir)
    config["datasets"].append(NEW)
    config["evaluate"] = {**config.get("evaluate", {}), "job": "row"}
    counts = dry_run_counts(work, write_config(work / "config_rows.yaml", config))
    assert counts.get("evaluate_row") == 3 + 2 and "evaluate" not in counts  # base + 3 old + 1 new adapter
