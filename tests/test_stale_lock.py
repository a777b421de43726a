"""After a crash: a stale Snakemake lock is removed only when no Snakemake (or job) of that
folder still runs; a real SIGKILLed snakemake is recovered from without a manual --unlock."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, SNAKEMAKE, write_config
from transfer_atlas.stale_lock import Process, decide, live_snakemake, main, process_table


def fake_proc(root, pid, cwd, argv):
    entry = root / str(pid)
    entry.mkdir()
    (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    if cwd is not None:
        os.symlink(cwd, entry / "cwd")


def test_process_table_and_live_snakemake_on_a_fake_proc(tmp_path):
    proc, work, other = tmp_path / "proc", tmp_path / "work", tmp_path / "other"
    for d in (proc, work, other):
        d.mkdir()
    (proc / "self").mkdir()  # not a pid: skipped
    fake_proc(proc, 11, work, ["/v/bin/python", "/v/bin/snakemake", "--cores", "2"])
    fake_proc(proc, 12, other, ["python", "-m", "snakemake", "--cores", "1"])
    fake_proc(proc, 13, work, ["python", f"{work}/.snakemake/scripts/tmpab12.train_lora.py"])
    fake_proc(proc, 14, work, ["python", "-c", "print('snakemake')"])
    fake_proc(proc, 15, work, ["vim", "Snakefile"])
    fake_proc(proc, 16, None, ["snakemake"])  # cwd unreadable: skipped
    table = process_table(proc)
    assert sorted(p.pid for p in table) == [11, 12, 13, 14, 15]
    assert [p.argv for p in table if p.pid == 12] == [("python", "-m", "snakemake", "--cores", "1")]
    assert sorted(p.pid for p in live_snakemake(work, table)) == [11, 13]
    assert [p.pid for p in live_snakemake(other, table)] == [12]


def test_decide_none_busy_stale(tmp_path):
    work = str(tmp_path)
    job = Process(7, work, ("python", f"{work}/.snakemake/scripts/tmp1.evaluate.py"))
    elsewhere = Process(8, "/elsewhere", ("snakemake", "--cores", "2"))
    assert decide(work, [job])[0] == "none"
    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)
    (tmp_path / ".snakemake" / "locks" / "0.output.lock").write_text("results/x\n")
    state, message = decide(work, [job, elsewhere])
    assert state == "busy" and "pid 7" in message and "pid 8" not in message
    assert decide(work, [elsewhere])[0] == "stale"
    assert decide(work, None)[0] == "unknown"  # no /proc: never unlock blindly


def test_sigkilled_snakemake_is_recovered(tmp_path):
    """The issue's crash: SIGKILL snakemake mid-run -> the next run refuses (lock); the
    stale-lock check unlocks once no job of it runs, and the rerun completes."""
    config = {
        "models": [{"name": "m", "path": str(tmp_path)}],
        "datasets": [{"name": "s2", "task": "sentiment2", "n_train": 200, "n_eval": 8, "seed": 1}],
    }
    cfg = write_config(tmp_path / "c.yaml", config)
    base = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--configfile", str(cfg), "--cores", "1"]
    target = "results/data/s2/train.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(
        [*base, target], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not list((tmp_path / ".snakemake" / "locks").glob("*.lock")) and time.time() < deadline:
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    refused = subprocess.run([*base, target], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "cannot be locked" in refused.stdout + refused.stderr
    unlock = [*base, "--unlock"]
    while main(["--dir", str(tmp_path), "--", *unlock]) == 1:  # an orphaned job may still run
        assert time.time() < deadline, "a job of the killed snakemake never ended"
        time.sleep(0.5)
    assert decide(str(tmp_path), process_table())[0] == "none"
    rerun = subprocess.run([*base, target], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (tmp_path / target).is_file()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_real_process_table_sees_this_test(tmp_path):
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "snakemake"], cwd=tmp_path
    )
    try:
        time.sleep(0.2)
        table = process_table()
        assert any(p.pid == sleeper.pid and p.cwd == str(tmp_path) for p in table)
        assert [p.pid for p in live_snakemake(tmp_path, table)] == []  # "snakemake" as a mere argument
    finally:
        sleeper.kill()
        sleeper.wait()
