"""Benchmark: one evaluate job per cell (default) vs one evaluate_row job per adapter.

Runs in a working directory where the workflow has already run (adapters trained): it
re-scores every cell twice with snakemake, with `evaluate: {job: row}` (one load per
(model, adapter)) and then with the default `evaluate: {job: cell}` (each job starts
Python, imports torch/transformers/peft, loads the model and merges the adapter), times both, checks that
every score file has the same value, prints the ratio and writes a JSON record to
perf/results/evaljobs-{cpu,gpu}-<time>.json.

    python perf/bench_eval_jobs.py --workdir . --configfile config/config.yaml --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perf.common import device_name, write_record  # noqa: E402


def snakemake(workdir: Path, configs: list[str], rule: str, cores: int) -> float:
    """Wall seconds of re-running every `rule` job and the matrix."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", str(cores), "--configfile", *configs]
    cmd += ["--forcerun", rule, "--until", "assemble_matrix", "--quiet", "rules"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed ({' '.join(cmd)}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def score_values(workdir: Path) -> dict[str, float]:
    scores = workdir / "results" / "scores"
    return {
        str(p.relative_to(scores)): json.loads(p.read_text())["value"] for p in sorted(scores.rglob("*.json"))
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("."), help="a directory with a completed run")
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        cell_cfg, row_cfg = Path(tmp) / "cell.yaml", Path(tmp) / "row.yaml"
        cell_cfg.write_text("evaluate: {job: cell}\n")
        row_cfg.write_text("evaluate: {job: row}\n")
        # rows first, so the directory ends as the default (cell) run left it
        row_s = snakemake(workdir, [args.configfile, str(row_cfg)], "evaluate_row", args.cores)
        row_scores = score_values(workdir)
        cell_s = snakemake(workdir, [args.configfile, str(cell_cfg)], "evaluate", args.cores)
        cell_scores = score_values(workdir)
    same = cell_scores == row_scores
    record = {
        "device": device_name(),
        "command": " ".join(sys.argv),
        "cores": args.cores,
        "n_cells": len(cell_scores),
        "n_rows": len({k.rsplit("/", 1)[0] for k in cell_scores}),
        "baseline": {"evaluate_job": "cell", "wall_s": round(cell_s, 1)},
        "evaluate_job": "row",
        "wall_s": round(row_s, 1),
        "identical_scores": same,
        "speedup": {"evaluate_stage": round(cell_s / row_s, 2)},
    }
    path = write_record("evaljobs-" + ("gpu" if "CPU" not in record["device"] else "cpu"), record)
    print(f"{record['n_cells']} cells: one job per cell {cell_s:.1f} s, one job per row {row_s:.1f} s")
    print(f"speedup x{cell_s / row_s:.2f}; identical scores: {same}; record: {path}")
    if not same:
        diff = {k: (v, row_scores.get(k)) for k, v in cell_scores.items() if row_scores.get(k) != v}
        sys.exit(f"scores differ: {diff}")


if __name__ == "__main__":
    main()
