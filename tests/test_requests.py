"""SLURM / scheduler requests of the model jobs from the preflight's estimates, times the attempt."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, run_snakemake, write_config
from transfer_atlas import preflight, requests
from transfer_atlas.config import load_config, resolve_datasets
from transfer_atlas.requests import job_requests

RES = {
    "gpu": 1,
    "gpu_mem_gb": 80,
    "train_mem_mb": 64000,
    "evaluate_mem_mb": 32000,
    "train_runtime": 60,
    "evaluate_runtime": 10,
    "runtime_margin": 2.0,
    "startup_min": 5,
    "host_base_mb": 6000,
}
HEADER = "job,model,dataset,peak_gib,runtime_min,weights_gib,fits,detail\n"


def _estimates(tmp_path, rows: str):
    path = tmp_path / "estimates.csv"
    path.write_text(HEADER + rows)
    return path


def test_requests_from_an_estimate_grow_with_the_attempt(tmp_path):
    path = _estimates(tmp_path, "train_lora,m,gsm8k,30.0,26.2,5.98,True,x\n")
    got = [job_requests(path, RES, "train_lora", "m", ["gsm8k"], a) for a in (1, 2, 3)]
    # runtime ceil(2 x 26.2 + 5) = 58 min; host ceil(5.98 x 1024 + 6000) = 12124 MB;
    # GPU 30 x 1024 = 30720 MiB, x attempt but never above the 80 GiB card
    assert [g["runtime"] for g in got] == [58, 116, 174]
    assert [g["mem_mb"] for g in got] == [12124, 24248, 36372]
    assert [g["gpu_mem_mb"] for g in got] == [30720, 61440, 80 * 1024]


def test_row_job_sums_its_targets_minutes_and_takes_the_largest_peak(tmp_path):
    rows = "evaluate,m,a,20.0,3.0,5.98,True,x\nevaluate,m,b,24.5,4.5,5.98,True,x\n"
    path = _estimates(tmp_path, rows)
    row = job_requests(path, RES, "evaluate", "m", ["a", "b"], 2)
    assert row == {"runtime": 2 * 20, "mem_mb": 2 * 12124, "gpu_mem_mb": 2 * 25088}
    cell = job_requests(path, RES, "evaluate", "m", ["a"], 1)
    assert cell == {"runtime": 11, "mem_mb": 12124, "gpu_mem_mb": 20480}


@pytest.mark.parametrize("path", [None, [], "absent.csv"])
def test_without_estimates_the_config_values_times_the_attempt(tmp_path, path):
    path = tmp_path / path if isinstance(path, str) else path
    assert job_requests(path, RES, "train_lora", "m", ["gsm8k"], 3) == {
        "runtime": 180,
        "mem_mb": 192000,
        "gpu_mem_mb": 0,
    }
    # an evaluate_row job: evaluate_runtime per target
    assert job_requests(path, RES, "evaluate", "m", ["a", "b", "c"], 2)["runtime"] == 60


def test_a_job_missing_from_the_estimates_falls_back(tmp_path):
    path = _estimates(tmp_path, "evaluate,m,a,40.0,3.0,5.98,True,x\n")
    assert job_requests(path, RES, "evaluate", "m", ["a", "new"], 1)["runtime"] == 20
    assert job_requests(path, RES, "train_lora", "m", ["a"], 1)["gpu_mem_mb"] == 0


def test_bad_estimates_name_file_row_and_field(tmp_path):
    path = _estimates(tmp_path, "train_lora,m,a,23.7,26.2,5.98,True,x\ntrain_lora,m,b,lots,1,1,True,x\n")
    with pytest.raises(ValueError, match=r"estimates.csv, row 3, field peak_gib: not a number: 'lots'"):
        requests.read_estimates(path)
    old = tmp_path / "old.csv"
    old.write_text("job,model,dataset,peak_gib,runtime_min,fits,detail\n")
    with pytest.raises(ValueError, match=r"old.csv: missing column\(s\) weights_gib"):
        requests.read_estimates(old)


# --- the workflow: a dry run of the SLURM profile shows the requests -----------------------
RESOURCES = re.compile(r"rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)\n(?:    .*\n)*?    resources: (.*)\n")


def _dry_run_requests(workdir, configfile) -> dict:
    """{(rule, wildcards): {resource: value}} of the model jobs in a dry run with the SLURM profile."""
    proc = run_snakemake(
        workdir, configfile, "-n", "--workflow-profile", str(ROOT / "profiles" / "slurm"), timeout=300
    )
    out = proc.stdout + proc.stderr
    jobs = {}
    for rule, wildcards, resources in RESOURCES.findall(out):
        if rule in ("train_lora", "evaluate"):
            jobs[(rule, wildcards)] = dict(kv.split("=", 1) for kv in resources.split(", "))
    assert jobs, out[-3000:]
    return jobs


def _gpu_config(tmp_path, tiny_model_dir):
    """A gpu > 0 config on the tiny model, estimated as a Llama-3.2-3B shape."""
    shape = str(ROOT / "resources" / "models" / "llama-3.2-3b.json")
    config = {
        "models": [{"name": "tiny", "path": str(tiny_model_dir), "shape": shape}],
        "datasets": [{"name": "sentiment2", "task": "sentiment2", "n_train": 8, "n_eval": 4, "seed": 2}],
        "train": {"r": 4, "alpha": 8, "steps": 2, "batch_size": 2, "max_length": 64},
        "evaluate": {"batch_size": 4},
        "resources": {"gpu": 1, "train_runtime": 7, "evaluate_runtime": 3, "train_mem_mb": 1111},
    }
    return write_config(tmp_path / "config.yaml", config)


def test_slurm_dry_run_shows_requests_from_the_preflight(tmp_path, tiny_model_dir):
    """A gpu > 0 config: before the preflight has run the dry run shows the config's values;
    with results/preflight/estimates.csv present, the requests computed from it."""
    configfile = _gpu_config(tmp_path, tiny_model_dir)
    before = _dry_run_requests(tmp_path, configfile)
    train = next(v for (rule, _), v in before.items() if rule == "train_lora")
    assert (train["runtime"], train["mem_mb"], train["gpu_mem_mb"], train["gpu"]) == ("7", "1111", "0", "1")

    full = load_config(configfile)
    out = tmp_path / "results" / "preflight" / "estimates.csv"
    out.parent.mkdir(parents=True)
    preflight.run(full, resolve_datasets(full), preflight.model_shapes(full), {}, out)
    after = _dry_run_requests(tmp_path, configfile)
    res = full["resources"]
    for (rule, _), got in after.items():
        job, stage = ("train_lora", "train") if rule == "train_lora" else ("evaluate", "evaluate")
        want = job_requests(out, res, job, "tiny", ["sentiment2"], 1)
        assert {k: int(got[k]) for k in want} == want, (rule, got)
        assert want["gpu_mem_mb"] > 6 * 1024  # a 3B-shaped model in bf16: > 6 GiB of weights
        assert int(got["runtime"]) != res[f"{stage}_runtime"]


def test_the_slurm_plugin_submits_the_requests(tmp_path):
    """The sbatch line snakemake-executor-plugin-slurm builds for a train_lora job on attempt 2:
    -t and --mem from the estimate, the GPU-memory constraint as -C, one GPU; gpu_mem_mb
    itself never reaches sbatch (SLURM has no GPU-memory request)."""
    submit = pytest.importorskip("snakemake_executor_plugin_slurm.submit_string")
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.__getitem__

    req = job_requests(
        _estimates(tmp_path, "train_lora,m,a,30.0,26.2,5.98,True,x\n"), RES, "train_lora", "m", ["a"], 2
    )
    resources = Resources(req, gpu=1, constraint="a100_80gb|h100")
    job = SimpleNamespace(resources=resources, threads=8)
    params = {
        "run_uuid": "u",
        "slurm_logfile": "log",
        "comment_str": "rule_train_lora",
        "account": "",
        "partition": "",
    }
    call = submit.get_submit_command(job, params | {"workdir": str(tmp_path)}) + set_gres_string(job)
    assert " -t 116 " in call and " --mem 24248 " in call and " -C 'a100_80gb|h100' " in call
    assert call.endswith(" --gpus=1") and "--cpus-per-task=8" in call
    assert str(req["gpu_mem_mb"]) == "61440" and "61440" not in call


def test_a_run_evaluates_the_requests_again_once_the_preflight_wrote_them(tmp_path, tiny_model_dir):
    """In one run, train_lora is planned before estimates.csv exists (fallback values) and
    starts with the computed ones: Snakemake re-evaluates the resources of a job about to
    start. (The job then fails at once: gpu=1 and no CUDA here.)"""
    configfile = _gpu_config(tmp_path, tiny_model_dir)
    proc = run_snakemake(tmp_path, configfile, "results/adapters/tiny/sentiment2/seed0", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "CUDA is not available" in out
    started = {
        rule: dict(kv.split("=", 1) for kv in res.split(", ")) for rule, _, res in RESOURCES.findall(out)
    }
    want = job_requests(
        tmp_path / "results" / "preflight" / "estimates.csv",
        load_config(configfile)["resources"],
        "train_lora",
        "tiny",
        ["sentiment2"],
        1,
    )
    assert {k: int(started["train_lora"][k]) for k in want} == want and want["mem_mb"] != 1111
