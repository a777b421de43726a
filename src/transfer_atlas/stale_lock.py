"""Recover from a killed `snakemake`: remove its lock only when nothing of it still runs.

A killed Snakemake leaves `.snakemake/locks/*.lock` in its working folder, and the next
run stops with "Directory cannot be locked". The lock is stale when no process in that
folder is a Snakemake (`snakemake ...`, `python -m snakemake ...`) or one of its job
scripts (`python .../.snakemake/scripts/tmp*.py`, which outlive a killed parent); then
`snakemake --unlock` is safe and the next run resumes (finished outputs are kept, jobs
with incomplete outputs rerun, training resumes from its checkpoint). `make demo` runs

    python -m transfer_atlas.stale_lock -- <snakemake --unlock command>

which prints what it found and exits 0 (no lock, or a stale one that it unlocked) or 1
(a live Snakemake or job in this folder: the lock is not touched). Without /proc (not
Linux) it cannot tell, leaves the lock alone and exits 0, so Snakemake's own lock error shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    cwd: str
    argv: tuple[str, ...]


def process_table(proc_root: str | os.PathLike = "/proc") -> list[Process]:
    """Every process whose command line and working folder can be read (Linux /proc layout)."""
    table = []
    for entry in Path(proc_root).iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, a kernel thread, or not ours to read
            continue
        table.append(Process(int(entry.name), cwd, tuple(a.decode(errors="replace") for a in argv if a)))
    return table


def is_snakemake(argv: tuple[str, ...]) -> bool:
    """A Snakemake process (entry point or `-m snakemake`) or a job script it started."""
    if any(Path(arg).name == "snakemake" for arg in argv[:2]):
        return True
    if any(argv[i : i + 2] == ("-m", "snakemake") for i in range(len(argv) - 1)):
        return True
    return any("/.snakemake/scripts/" in arg for arg in argv)


def live_snakemake(workdir: str | os.PathLike, table: list[Process]) -> list[Process]:
    """Processes of `table` that are Snakemake (or its jobs) running in `workdir`."""
    here = os.path.realpath(workdir)
    return [p for p in table if p.pid != os.getpid() and p.cwd == here and is_snakemake(p.argv)]


def lock_files(workdir: str | os.PathLike) -> list[Path]:
    locks = Path(workdir) / ".snakemake" / "locks"
    return sorted(locks.glob("*.lock")) if locks.is_dir() else []


def decide(workdir: str | os.PathLike, table: list[Process] | None) -> tuple[str, str]:
    """("none" | "stale" | "busy" | "unknown", a one-line explanation) for the lock of
    `workdir`; `table` None means the processes could not be listed (no /proc)."""
    locks = lock_files(workdir)
    if not locks:
        return "none", f"{workdir}: no Snakemake lock"
    if table is None:
        return "unknown", (
            f"{workdir}: locked, and this system has no /proc to check for a running Snakemake; "
            "if none runs here, run `snakemake --unlock` yourself"
        )
    live = live_snakemake(workdir, table)
    if live:
        pids = ", ".join(f"{p.pid} ({' '.join(p.argv[:3])})" for p in live)
        return "busy", f"{workdir}: locked by a running Snakemake or job: pid {pids}; not unlocking"
    return "stale", f"{workdir}: stale lock ({len(locks)} files) and no Snakemake running here; unlocking"


def main(argv: list[str]) -> int:
    """`[--dir DIR] -- UNLOCK_COMMAND...`: run the command only when the lock is stale."""
    workdir = "."
    if argv[:1] == ["--dir"]:
        workdir, argv = argv[1], argv[2:]
    command = argv[1:] if argv[:1] == ["--"] else argv
    state, message = decide(workdir, process_table() if Path("/proc/self").is_dir() else None)
    print(message, file=sys.stderr)
    if state == "busy":
        return 1
    if state == "stale" and command:
        subprocess.run(command, cwd=workdir, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
