"""What a model job asks the scheduler for (SLURM sbatch -t / --mem, local resources), from
the preflight's per-job estimates (results/preflight/estimates.csv, transfer_atlas.preflight).

On attempt `a` (1, then 2 and 3 with Snakemake's `retries: 2`), a train_lora, evaluate or
evaluate_row job with an estimate asks for:

  runtime     minutes   a x ceil(runtime_margin x estimated minutes + startup_min)
  mem_mb      host MB   a x ceil(weights MiB + host_base_mb)   (load_model reads the whole
                        checkpoint into host memory before moving it to the GPU)
  gpu_mem_mb  GPU MiB   min(a x ceil(estimated peak MiB), resources.gpu_mem_gb x 1024)

An evaluate_row job sums its targets' minutes (one start-up) and takes the largest peak.
Without an estimate -- resources.gpu: 0 (CPU runs have no preflight), a dry run before the
preflight has run (Snakemake evaluates the resources again, with the file present, when the
job is about to start: transfer_atlas.requests is called twice), or a job missing from the
file -- the config's `{stage}_runtime` / `{stage}_mem_mb` x a (evaluate_row: evaluate_runtime
per target) and gpu_mem_mb 0 are used.
"""

from __future__ import annotations

import csv
import math
import os
from functools import lru_cache
from pathlib import Path

MIB = 2**20
REQUIRED = ("job", "model", "dataset", "peak_gib", "runtime_min", "weights_gib")


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> dict[tuple[str, str, str], dict[str, float]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (rerun rule preflight)")
        rows = {}
        for i, row in enumerate(reader, start=2):
            values = {}
            for field in ("peak_gib", "runtime_min", "weights_gib"):
                try:
                    values[field] = float(row[field])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{path}, row {i}, field {field}: not a number: {row[field]!r}"
                    ) from None
            rows[(row["job"], row["model"], row["dataset"])] = values
    return rows


def read_estimates(path) -> dict[tuple[str, str, str], dict[str, float]] | None:
    """{(job, model, dataset): {peak_gib, runtime_min, weights_gib}} from estimates.csv, or
    None when there is no such file yet (or no path: gpu 0)."""
    if not path or not isinstance(path, (str, os.PathLike)):
        return None
    path = Path(path)
    if not path.is_file():
        return None
    return _read(str(path), path.stat().st_mtime_ns)


def combine(rows: list[dict | None]) -> dict | None:
    """{minutes, peak_gib, weights_gib} of a job from its estimate rows ({peak_gib,
    runtime_min, weights_gib}, as in estimates.csv): the sum of the minutes, the largest peak
    (an evaluate_row job covers several targets); None if there is no row or one is missing."""
    if not rows or any(r is None for r in rows):
        return None
    return {
        "minutes": sum(r["runtime_min"] for r in rows),
        "peak_gib": max(r["peak_gib"] for r in rows),
        "weights_gib": max(r["weights_gib"] for r in rows),
    }


def job_estimate(estimates, job: str, model: str, datasets: list[str]) -> dict | None:
    """One job's estimate (`combine`) from read_estimates()' table; None without one."""
    if not estimates:
        return None
    return combine([estimates.get((job, model, d)) for d in datasets])


def stage(job: str) -> str:
    """The config's resources prefix of a model job: train (train_lora) or evaluate."""
    return "train" if job == "train_lora" else "evaluate"


def requests(estimate: dict | None, res: dict, stage: str, attempt: int, n_targets: int = 1) -> dict:
    """{runtime (minutes), mem_mb (host MB), gpu_mem_mb (GPU MiB)} of one job on `attempt`;
    `res`: the config's resources block; `stage`: train | evaluate; `n_targets`: targets
    of an evaluate_row job (fallback runtime only). See the module docstring."""
    if estimate is None:
        per_job = res[f"{stage}_runtime"] * (n_targets if stage == "evaluate" else 1)
        return {
            "runtime": per_job * attempt,
            "mem_mb": res[f"{stage}_mem_mb"] * attempt,
            "gpu_mem_mb": 0,
        }
    minutes = math.ceil(res["runtime_margin"] * estimate["minutes"] + res["startup_min"])
    host = math.ceil(estimate["weights_gib"] * 1024 + res["host_base_mb"])
    gpu = math.ceil(estimate["peak_gib"] * 1024)
    return {
        "runtime": minutes * attempt,
        "mem_mb": host * attempt,
        "gpu_mem_mb": min(gpu * attempt, math.floor(res["gpu_mem_gb"] * 1024)),
    }


def job_requests(path, res: dict, job: str, model: str, datasets: list[str], attempt: int) -> dict:
    """requests() of one job from the estimates file at `path` (None / absent: fallback)."""
    estimate = job_estimate(read_estimates(path), job, model, datasets)
    return requests(estimate, res, stage(job), attempt, n_targets=len(datasets))
