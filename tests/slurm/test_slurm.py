"""Integration test: the real workflow through a real SLURM (single node on localhost).

    sudo .venv/bin/pytest -m slurm tests/slurm -v -s

What it does:
  1. `tests/slurm/setup.sh` installs/starts slurmctld, slurmd, slurmdbd (+ MariaDB,
     munge) unless already up (idempotent, ~1 s when up).
  2. test_real_workflow_through_slurm: the repo-root Snakefile on a tiny config (tiny random
     Llama from tests/conftest.py, 2 generated tasks, 2 training steps; targets: the data
     profiles and the transfer matrix, 14 jobs) with `snakemake --executor slurm
     --workflow-profile profiles/slurm --directory <tmp>` (every job an sbatch job, run as
     root on localhost). Asserts one COMPLETED sacct job per job snakemake planned, with
     the rule in the job comment (`rule_<name>[_wildcards_<...>]`), every core rule among
     them, no GPU requested (gpu=0); and that results/scores/**/*.json (without timing and
     device fields) and results/matrix/*/{matrix,delta}.csv equal those of a local run
     (`--cores 2`, run at the same time). TRANSFER_ATLAS_SLURM_FULL=1 runs the default
     target instead (analysis rules and report too; 3 tasks, ~40 jobs, much slower).
  3. test_toy_gpu_mapping_through_slurm: tests/slurm/toy/Snakefile with gpu=1 and
     TRANSFER_ATLAS_SLURM_GPU_MODEL=fake: only train_lora jobs get gres/gpu (fake GPU).
The sacct table of each run is printed and written to <test tmp dir>/sacct.txt.

Skips (with the reason) when TRANSFER_ATLAS_SKIP_SLURM=1, when not root, or when the
cluster cannot be set up (no apt-get, no network, ...). TRANSFER_ATLAS_REQUIRE_SLURM=1
(CI) turns each of these into a test failure instead (and overrides ..._SKIP_SLURM).
TRANSFER_ATLAS_SLURM_TIMEOUT (default 600 s) bounds each snakemake run.

Reuse for another workflow: `run_through_slurm(snakefile, workdir, configfile, extra_args)`
returns the run's sacct records (extra_args may hold targets).
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_snakemake, tiny_config, write_config

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SETUP_SH = HERE / "setup.sh"
SLURM_PROFILE = ROOT / "profiles" / "slurm"
LOCAL_PROFILE = ROOT / "profiles" / "default"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")

# Seconds a whole snakemake run may take before it is cancelled (jobs are scancel'ed).
RUN_TIMEOUT = int(os.environ.get("TRANSFER_ATLAS_SLURM_TIMEOUT", "600"))
SACCT_FIELDS = (
    "JobID JobIDRaw JobName State ExitCode Comment Partition Account AllocCPUS ReqTRES AllocTRES "
    "WorkDir Submit Start End Elapsed"
).split()
_SEP = "|#|"  # sacct --delimiter; not expected inside any of the fields above
_FINAL_STATES = set(
    "COMPLETED FAILED CANCELLED TIMEOUT OUT_OF_MEMORY NODE_FAIL PREEMPTED BOOT_FAIL DEADLINE".split()
)


# --------------------------------------------------------------------------------------
# Helpers (reusable)
# --------------------------------------------------------------------------------------
class SlurmRunError(AssertionError):
    """A SLURM run failed; the message carries snakemake output, sacct table and logs."""


def _tail(text: str, n: int = 60) -> str:
    return "\n".join(text.splitlines()[-n:])


def sacct_records(workdir: Path | None = None, since: datetime | None = None) -> list[dict]:
    """Job allocations (`sacct -X`) as dicts keyed by SACCT_FIELDS.

    Filtered to jobs whose working directory is `workdir` (the plugin submits with
    `-D <workdir>`), submitted after `since` (default: the last 2 days).
    """
    since = since or datetime.now() - timedelta(days=2)
    cmd = [
        "sacct",
        "-X",
        "--parsable2",
        "--noheader",
        f"--delimiter={_SEP}",
        f"--format={','.join(SACCT_FIELDS)}",
        "--starttime",
        since.strftime("%Y-%m-%dT%H:%M:%S"),
        "--endtime",
        "now",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    records = [dict(zip(SACCT_FIELDS, line.split(_SEP), strict=False)) for line in out.splitlines() if line]
    if workdir is not None:
        wd = str(Path(workdir).resolve())
        records = [r for r in records if r.get("WorkDir", "").rstrip("/") == wd]
    return records


def format_records(
    records: list[dict],
    fields=("JobIDRaw", "State", "ExitCode", "Comment", "Partition", "AllocTRES", "Elapsed"),
) -> str:
    rows = [list(fields)] + [[r.get(f, "") for f in fields] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(fields))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


def rule_of(record: dict) -> str:
    """Rule (or group) name from the job comment `rule_<name>[_wildcards_<...>]`."""
    m = re.match(r"^(?:rule|group)_(.+?)(?:_wildcards_.*)?$", record.get("Comment", ""))
    return m.group(1) if m else ""


def rule_counts(records: list[dict]) -> Counter:
    return Counter(rule_of(r) for r in records)


def _slurm_logs(workdir: Path, max_files: int = 8) -> str:
    logs = sorted((Path(workdir) / ".snakemake" / "slurm_logs").rglob("*.log"))
    parts = [
        f"--- {p.relative_to(workdir)} ---\n{_tail(p.read_text(errors='replace'), 30)}"
        for p in logs[-max_files:]
    ]
    return "\n".join(parts) or "(no SLURM job logs)"


def _cancel_jobs(workdir: Path) -> None:
    ids = [r["JobIDRaw"] for r in sacct_records(workdir) if r["State"] in ("PENDING", "RUNNING")]
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def run_through_slurm(
    snakefile: Path | str,
    workdir: Path | str,
    configfile: Path | str | None = None,
    extra_args=(),
    *,
    timeout: int = RUN_TIMEOUT,
    profile: Path = SLURM_PROFILE,
    env: dict[str, str] | None = None,
) -> list[dict]:
    """Run `snakefile` through SLURM with the slurm workflow profile; return sacct records.

    Runs `snakemake --executor slurm --workflow-profile <profile> --directory <workdir>`,
    waits for it (cancelling it and its SLURM jobs after `timeout` s), then polls sacct
    until every job of this run (matched by working directory) is in a final state.
    `extra_args`: more snakemake arguments, targets included (put first on the command line).
    `env` adds environment variables (e.g. TRANSFER_ATLAS_SLURM_GPU_MODEL for the profile).
    Raises SlurmRunError (with snakemake output, sacct table and job logs) when
    snakemake fails or any job did not end COMPLETED.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    since = datetime.now() - timedelta(seconds=5)
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--executor",
        "slurm",
        "--workflow-profile",
        str(profile),
        # faster turnaround than the profile's cluster-friendly defaults
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--retries",
        "0",  # fail fast in tests (the profile retries twice)
        "--latency-wait",
        "10",
    ]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    # extra_args (options and/or targets) go first: a target after a multi-value option
    # such as --configfile would be read as one more of its values
    cmd[1:1] = list(extra_args)
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    log_path = workdir / "snakemake-slurm.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM lets snakemake scancel its jobs; then make sure.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            _cancel_jobs(workdir)
            rc = None
    output = log_path.read_text(errors="replace")
    print(f"snakemake (slurm) finished in {time.monotonic() - t0:.1f}s, rc={rc}", flush=True)

    # Accounting is written asynchronously: wait until every job is in a final state.
    deadline = time.monotonic() + (60 if rc == 0 else 15)
    records: list[dict] = []
    while True:
        try:
            records = sacct_records(workdir, since)
        except (subprocess.SubprocessError, OSError) as exc:  # slurmdbd busy: retry
            print(f"sacct failed ({exc}); retrying", flush=True)
        if records and all(r["State"].split()[0] in _FINAL_STATES for r in records):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(1)

    def fail(reason: str):
        raise SlurmRunError(
            f"{reason}\n\n=== snakemake output (tail) ===\n{_tail(output, 80)}\n\n"
            f"=== sacct (jobs with WorkDir={workdir}) ===\n{format_records(records)}\n\n"
            f"=== SLURM job logs ===\n{_slurm_logs(workdir)}"
        )

    if rc is None:
        fail(f"snakemake did not finish within {timeout}s (cancelled)")
    if rc != 0:
        fail(f"snakemake --executor slurm exited with {rc}")
    if not records:
        fail("no SLURM jobs of this run found in sacct")
    bad = [r for r in records if r["State"] != "COMPLETED"]
    if bad:
        fail(f"{len(bad)} SLURM job(s) did not complete")
    return records


def run_locally(snakefile, workdir, configfile=None, extra_args=(), cores: int = 2) -> None:
    """The same workflow with the local executor (reference outputs)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(LOCAL_PROFILE),
        "--cores",
        str(cores),
    ]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd[1:1] = list(extra_args)  # see run_through_slurm
    print("$", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, f"local run failed:\n{_tail(res.stdout + res.stderr, 80)}"


def compare_trees(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Differences between two output trees: missing files and differing contents.

    `ignore` holds glob patterns (relative paths) to skip, e.g. timing-dependent files.
    """

    def files(root: Path) -> set[str]:
        rels = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        return {r for r in rels if not any(Path(r).match(g) for g in ignore)}

    fa, fb = files(a), files(b)
    problems = [f"only in {a}: {r}" for r in sorted(fa - fb)]
    problems += [f"only in {b}: {r}" for r in sorted(fb - fa)]
    problems += [f"differs: {r}" for r in sorted(fa & fb) if not filecmp.cmp(a / r, b / r, shallow=False)]
    return problems


# --------------------------------------------------------------------------------------
# Cluster fixture
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def slurm_cluster():
    """Bring up the local SLURM cluster (tests/slurm/setup.sh) or skip."""
    require = os.environ.get("TRANSFER_ATLAS_REQUIRE_SLURM") == "1"
    if os.environ.get("TRANSFER_ATLAS_SKIP_SLURM") == "1" and not require:
        pytest.skip("TRANSFER_ATLAS_SKIP_SLURM=1")
    reason = None
    if os.geteuid() != 0:
        reason = "SLURM integration test needs root (installs and starts slurm daemons)"
    elif not (shutil.which("apt-get") or shutil.which("sbatch")):
        reason = "neither apt-get nor an installed slurm found"
    if reason is None:
        t0 = time.monotonic()
        res = subprocess.run(["bash", str(SETUP_SH)], capture_output=True, text=True, timeout=900)
        print(res.stdout, flush=True)
        print(f"setup.sh took {time.monotonic() - t0:.1f}s", flush=True)
        if res.returncode != 0:
            reason = (
                f"tests/slurm/setup.sh failed (rc={res.returncode}):\n{_tail(res.stdout + res.stderr, 40)}"
            )
    if reason is not None:
        if require:
            pytest.fail(f"TRANSFER_ATLAS_REQUIRE_SLURM=1 but: {reason}")
        pytest.skip(reason)
    return True


# --------------------------------------------------------------------------------------
# Checks shared by the tests
# --------------------------------------------------------------------------------------
def planned_jobs(snakemake_output: str) -> dict[str, int]:
    """rule -> job count from the first "Job stats:" table snakemake prints (without `all`)."""
    counts: dict[str, int] = {}
    lines = iter(snakemake_output.splitlines())
    for line in lines:
        if line.strip() == "Job stats:":
            break
    for line in lines:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) == "total":
            break
        if m:
            counts[m.group(1)] = int(m.group(2))
    counts.pop("all", None)  # target rule without a body: runs nowhere
    return counts


def report_records(records: list[dict], path: Path, title: str) -> str:
    """Print the sacct table (shows up in pytest's captured output) and write it to `path`."""
    table = format_records(records)
    fields = list(SACCT_FIELDS)
    tsv = "\n".join(["\t".join(fields)] + ["\t".join(r.get(f, "") for f in fields) for r in records])
    path.write_text(f"# {title}\n{table}\n\n# all fields\n{tsv}\n")
    print(f"{title} ({len(records)} jobs; also in {path}):\n{table}", flush=True)
    return table


def check_records(records: list[dict], expected_jobs: dict[str, int], gpu_rules=frozenset()) -> None:
    """Every job COMPLETED (run_through_slurm), rule in the comment, one per planned job."""
    table = format_records(records)
    counts = rule_counts(records)
    assert "" not in counts, f"job(s) without rule comment:\n{table}"
    assert dict(counts) == expected_jobs, f"sacct jobs per rule != planned jobs {expected_jobs}:\n{table}"
    # one run -> one job name (the run uuid that the plugin uses for `sacct --name`)
    assert len({r["JobName"] for r in records}) == 1, table
    # GPU only where the rule asks for one (gpu=0 must not produce a GPU request)
    wrong = [r for r in records if ("gres/gpu" in r["ReqTRES"] + r["AllocTRES"]) != (rule_of(r) in gpu_rules)]
    assert not wrong, f"GPU allocation does not match gpu_rules={set(gpu_rules)}:\n{format_records(wrong)}"


# --------------------------------------------------------------------------------------
# The real workflow (repo-root Snakefile) on a tiny config
# --------------------------------------------------------------------------------------
# Rules that must have run as SLURM jobs; beyond them, every job snakemake planned must
# show up in sacct (so rules added later are covered without being listed here).
CORE_RULES = {"prepare_data", "profile_data", "prepare_model", "train_lora", "evaluate", "assemble_matrix"}
# Timing/host fields of the score files (the rest must be identical).
VOLATILE_KEYS = {"elapsed_s", "torch_threads", "device"}
# TRANSFER_ATLAS_SLURM_FULL=1: the default target `all` (analysis rules and report too) on
# tiny_config's 3 tasks (the analyses need >= 3), ~40 SLURM jobs and several minutes more;
# default: the transfer matrix and data profiles only, 2 tasks, 14 jobs.
FULL = os.environ.get("TRANSFER_ATLAS_SLURM_FULL") == "1"


def slurm_tiny_config(model_dir: Path, full: bool = FULL) -> dict:
    """tests/conftest.py's tiny_config, smaller: 2 steps; 2 tasks of 8/4 examples unless `full`."""
    datasets = None
    if not full:
        datasets = [
            {"name": "sentiment2", "task": "sentiment2", "n_train": 8, "n_eval": 4, "seed": 2},
            {"name": "arith_small", "task": "arith_small", "n_train": 8, "n_eval": 4, "seed": 1},
        ]
    config = tiny_config(model_dir, datasets=datasets)
    config["train"] = {**config["train"], "steps": 2, "checkpoint_every": 2}
    return config


def core_targets(config: dict) -> list[str]:
    """Data profiles and transfer matrices (jobs of CORE_RULES only); [] = default target."""
    if FULL:
        return []
    targets = [f"results/data/{d['name']}/profile.json" for d in config["datasets"]]
    for model in (m["name"] for m in config["models"]):
        targets += [f"results/matrix/{model}/{f}" for f in ("matrix.csv", "delta.csv", "delta_heatmap.png")]
    return targets


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def compare_results(a: Path, b: Path) -> list[str]:
    """scores/**/*.json (without VOLATILE_KEYS) and matrix/*/{matrix,delta}.csv of two runs."""

    problems = []
    for pattern, exact in (
        ("scores/**/*.json", False),
        ("matrix/*/matrix.csv", True),
        ("matrix/*/delta.csv", True),
    ):
        fa = {str(p.relative_to(a)) for p in a.glob(pattern)}
        fb = {str(p.relative_to(b)) for p in b.glob(pattern)}
        if not fa:
            problems.append(f"no {pattern} in {a}")
        problems += [f"only in {a}: {r}" for r in sorted(fa - fb)]
        problems += [f"only in {b}: {r}" for r in sorted(fb - fa)]
        for rel in sorted(fa & fb):
            if exact:
                same = filecmp.cmp(a / rel, b / rel, shallow=False)
            else:
                same = _strip(json.loads((a / rel).read_text())) == _strip(json.loads((b / rel).read_text()))
            if not same:
                problems.append(f"differs: {rel}")
    return problems


def test_real_workflow_through_slurm(slurm_cluster, tiny_model_dir, tmp_path):
    """Repo-root Snakefile through SLURM + the profile; same scores and matrices as locally.

    The local reference run (default workflow profile, `--cores 2`) runs at the same time
    as the SLURM run: the SLURM run mostly waits (submission, status polling).
    """
    config_dict = slurm_tiny_config(tiny_model_dir)
    config = write_config(tmp_path / "config.yaml", config_dict)
    targets = core_targets(config_dict)
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"

    def local_run() -> float:
        t = time.monotonic()
        run_snakemake(local_dir, config, *targets)
        return time.monotonic() - t

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        local = pool.submit(local_run)
        try:
            records = run_through_slurm(ROOT / "Snakefile", slurm_dir, config, targets)
        finally:
            local_error = local.exception()  # waits for the local run (bounded by its timeout)
    slurm_s = time.monotonic() - t0
    report_records(records, tmp_path / "sacct.txt", f"SLURM run of the real workflow: {slurm_s:.1f}s")

    # (a) one COMPLETED sacct job per planned job, rule name in the comment; no GPU (gpu=0)
    planned = planned_jobs((slurm_dir / "snakemake-slurm.log").read_text(errors="replace"))
    missing = CORE_RULES - set(planned)
    assert not missing, f"snakemake planned no job for core rule(s) {missing}: {planned}"
    check_records(records, planned)

    # (b) same results as the local run of the same config
    if local_error is not None:
        raise local_error
    print(f"local run (concurrently): {local.result():.1f}s", flush=True)
    problems = compare_results(slurm_dir / "results", local_dir / "results")
    assert not problems, "SLURM and local outputs differ:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------
# Toy workflow: GPU mapping (gres) that the CPU-only real run cannot show
# --------------------------------------------------------------------------------------
def test_toy_gpu_mapping_through_slurm(slurm_cluster, tmp_path):
    """gpu=1 for train_lora only; the profile maps TRANSFER_ATLAS_SLURM_GPU_MODEL to
    --gpus=fake:1 (setup.sh configures one fake GPU "gpu:fake:1"), so exactly the
    train_lora jobs must show gres/gpu in sacct; results/ byte-identical to a local run."""
    snakefile, extra = HERE / "toy" / "Snakefile", ("--config", "gpu=1")
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"

    t0 = time.monotonic()
    records = run_through_slurm(
        snakefile, slurm_dir, extra_args=extra, env={"TRANSFER_ATLAS_SLURM_GPU_MODEL": "fake"}
    )
    report_records(
        records, tmp_path / "sacct.txt", f"SLURM run of the toy workflow: {time.monotonic() - t0:.1f}s"
    )
    check_records(
        records,
        {"prepare_data": 1, "train_lora": 2, "assemble_matrix": 1},
        gpu_rules=frozenset({"train_lora"}),
    )

    run_locally(snakefile, local_dir, extra_args=extra)
    problems = compare_trees(slurm_dir / "results", local_dir / "results")
    assert not problems, "SLURM and local outputs differ:\n" + "\n".join(problems)
