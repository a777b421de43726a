"""Only result settings rerun work: dry runs (default rerun triggers, as a user runs) against
the completed tiny run of tests/conftest.py, one config key changed at a time."""

from __future__ import annotations

import pytest

from tests.conftest import dry_run_counts, dry_run_jobs, run_snakemake, tiny_config, write_config
from transfer_atlas import settings

pytestmark = pytest.mark.slow

MODEL_RULES = {"prepare_model", "prepare_data", "train_lora", "evaluate", "evaluate_row"}
# One new value per execution-only key. resources.gpu (0 -> 1 makes the preflight gate an
# input of every model job, and moves dtype `auto` from float32 to bfloat16) and evaluate.job
# (a row job reads every target) are tested on their own below.
EXECUTION_CHANGES = {
    "train.checkpoint_every": 3,
    "train.micro_batch_tokens": 64,
    "train.gradient_checkpointing": True,
    "evaluate.batch_size": 3,
    "evaluate.kv_token_budget": 4096,
    "evaluate.merge_adapter": False,
    "evaluate.sort_by_length": False,
    "evaluate.continuous_batching": False,
    "evaluate.shared_prefix": False,
    "evaluate.trim_logits": False,
    "resources.gpu_mem_gb": 40,
    "resources.gpu_tflops": 989,
    "resources.gpu_tb_s": 3.35,
    "resources.train_threads": 2,
    "resources.evaluate_threads": 2,
    "resources.train_mem_mb": 1234,
    "resources.evaluate_mem_mb": 1234,
    "resources.train_runtime": 7,
    "resources.evaluate_runtime": 7,
    "resources.runtime_margin": 3.0,
    "resources.startup_min": 9,
    "resources.host_base_mb": 1234,
    "analysis.semantic.batch_size": 5,
    "analysis.transfer_roles.external_only": True,
}
# Result settings of the `external` model's analyses only: nothing of our own models reruns.
EXTERNAL_CHANGES = {
    "analysis.transfer_roles.external_metric": "acc",
    "analysis.transfer_roles.external_scale": "points",
    "analysis.transfer_roles.external_filter": {"rank": 32},
}
DISPLAY_CHANGES = {
    "analysis.pca.n_top": 1,
    "analysis.dependency.top": 2,
    "analysis.report.n_pcs": 1,
    "analysis.report.n_top": 2,
    "analysis.flips.n_show": 2,
    "analysis.flips.max_chars": 100,
}


def _dry_run(tiny_run, tiny_model_dir, key, value, *args):
    work, _ = tiny_run
    name = f"config_{key.replace('.', '_')}.yaml"
    return dry_run_jobs(work, write_config(work / name, _changed_all(tiny_model_dir, {key: value})), *args)


def test_every_key_of_the_schema_has_a_role():
    leaves = [k for k in settings.roles() if not any(o.startswith(k + ".") for o in settings.roles())]
    assert leaves and all(settings.role(k) in settings.ROLES for k in leaves)
    executed = {k for k in leaves if settings.role(k) == "execution"}
    assert executed == set(EXECUTION_CHANGES) | {"evaluate.job", "resources.gpu"}
    assert {k for k in leaves if settings.role(k) == "display"} == set(DISPLAY_CHANGES)


def _changed_all(model_dir, changes: dict) -> dict:
    config = tiny_config(model_dir)
    for key, value in changes.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def test_execution_only_keys_schedule_no_job(tiny_run, tiny_model_dir):
    """Every execution-only key changed at once (and the external_* keys, which only the
    `external` model's analyses read): nothing reruns. external_only, which would empty `rule
    all`, is left out here; test_external_only_reruns_nothing checks it."""
    work, _ = tiny_run
    changes = {**EXECUTION_CHANGES, **EXTERNAL_CHANGES}
    changes.pop("analysis.transfer_roles.external_only")
    config = _changed_all(tiny_model_dir, changes)
    assert dry_run_jobs(work, write_config(work / "config_execution.yaml", config)) == []


def test_external_only_reruns_nothing(tiny_run, tiny_model_dir):
    """With no external_results, external_only leaves `rule all` only the report (which then
    says what it covers): no model or analysis job."""
    jobs = _dry_run(tiny_run, tiny_model_dir, "analysis.transfer_roles.external_only", True)
    assert {rule for rule, _ in jobs} <= {"report", "all"}  # `all`: no file, no work


def test_display_keys_rerun_no_model_job(tiny_run, tiny_model_dir):
    work, _ = tiny_run
    config = _changed_all(tiny_model_dir, DISPLAY_CHANGES)
    rules = {rule for rule, _ in dry_run_jobs(work, write_config(work / "config_display.yaml", config))}
    assert rules == {"pca", "dependency_analysis", "flips", "report", "all"}  # `all`: no file, no work


def test_switching_the_job_mode_or_gpu_changes_no_params(tiny_run, tiny_model_dir):
    """Neither evaluate.job nor resources.gpu reaches a job's params. Both still reschedule
    model jobs through Snakemake's other triggers: a row job reads every target's eval file
    with another script (input, code, mtime), and gpu > 0 adds the preflight gate as an input
    of every model job."""
    work, _ = tiny_run
    for key, value in (("evaluate.job", "row"), ("resources.gpu", 1)):
        config = write_config(work / f"config_{key}.yaml", _changed_all(tiny_model_dir, {key: value}))
        out = run_snakemake(work, config, "-n").stdout
        assert "rule evaluate" in out and "arams have changed" not in out, key


def test_learning_rate_retrains_every_adapter_and_rescores_its_cells_only(tiny_run, tiny_model_dir):
    jobs = _dry_run(tiny_run, tiny_model_dir, "train.lr", 0.003)
    names = ["arith_small", "sentiment2", "paraphrase"]
    trained = sorted(wc["source"] for rule, wc in jobs if rule == "train_lora")
    cells = sorted((wc["adapter"], wc["target"]) for rule, wc in jobs if rule == "evaluate")
    assert trained == sorted(names)
    assert cells == sorted((f"{s}/seed0", t) for s in names for t in names)  # no base cell
    assert not {"prepare_data", "prepare_model", "profile_data"} & {rule for rule, _ in jobs}


def test_one_targets_eval_size_reruns_its_eval_split_and_column_only(tiny_run, tiny_model_dir):
    work, _ = tiny_run
    config = tiny_config(tiny_model_dir)
    config["datasets"][1]["n_eval"] = 6  # sentiment2
    jobs = dry_run_jobs(work, write_config(work / "config_n_eval.yaml", config))
    prepared = [wc for rule, wc in jobs if rule == "prepare_data"]
    cells = sorted((wc["adapter"], wc["target"]) for rule, wc in jobs if rule == "evaluate")
    assert prepared == [{"dataset": "sentiment2", "split": "eval"}]
    rows = ["base", "arith_small/seed0", "sentiment2/seed0", "paraphrase/seed0"]
    assert cells == sorted((row, "sentiment2") for row in rows)
    counts = dry_run_counts(work, work / "config_n_eval.yaml")
    assert "train_lora" not in counts and "prepare_model" not in counts
    assert all(n == 1 for rule, n in counts.items() if rule not in ("evaluate", "spacy_parse")), counts
