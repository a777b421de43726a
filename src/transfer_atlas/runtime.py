"""What every workflow script does first: logging, CPU threads, and the device rules.

A job whose rule declares `resources: gpu > 0` must run on a GPU: `setup` fails at the start
when CUDA is not available (CPU-only torch wheel, driver mismatch, a node without GPUs)
instead of training an 8B model on CPU threads until the time limit. Local runs give each
GPU job its own GPU: `claim_gpus` takes a free one among the visible GPUs (an exclusive
lock file per GPU, held until the job's process ends) and narrows `CUDA_VISIBLE_DEVICES`
to it; under SLURM the allocation has already done so.

`device_info()` (recorded in train_summary.json and every score file):
  device        "cuda" | "cpu"
  torch         torch version, e.g. "2.13.0+cu126"
  cuda_build    CUDA version torch was built with, or null (CPU-only build)
  cuda_available, gpu_count, gpu_names (list), cuda_visible_devices (env value or null)

Analysis-only jobs never import torch: `setup` sets torch's thread count only when the
script has already imported torch (the model scripts import it through their module);
otherwise OMP_NUM_THREADS / MKL_NUM_THREADS tell a later import (e.g. embeddings).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_HELD: list = []  # open lock files of the GPUs this process claimed


class DeviceError(RuntimeError):
    """A rule asked for a GPU that this process cannot use."""


def setup(smk) -> None:
    """Route logging to `smk.log[0]`, use `smk.threads` CPU threads, enforce the GPU request."""
    from transfer_atlas.io import setup_logging

    setup_logging(smk.log[0] if smk.log else None)
    threads = max(1, int(smk.threads))
    gpus = int(getattr(smk.resources, "gpu", 0) or 0)
    if gpus > 0:
        if not os.environ.get("SLURM_JOB_ID"):
            claim_gpus(gpus)
        require_cuda(gpus, f"rule '{smk.rule}'")
    if "torch" not in sys.modules:  # an analysis job: no torch import just for a thread count
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        log.info("device: cpu (torch not loaded by this job), %d thread(s)", threads)
        return
    sys.modules["torch"].set_num_threads(threads)
    log.info("device: %s", device_info())


def visible_gpus() -> list[str]:
    """GPU ids this process may use, without initialising CUDA: `CUDA_VISIBLE_DEVICES` if
    set, else the /dev/nvidiaN device files."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [x.strip() for x in env.split(",") if x.strip() and x.strip() != "-1"]
    return sorted((p.name[len("nvidia") :] for p in Path("/dev").glob("nvidia[0-9]*")), key=int)


def claim_gpus(n: int, lock_dir: str | Path | None = None) -> list[str]:
    """Lock `n` free GPUs among the visible ones and narrow CUDA_VISIBLE_DEVICES to them.

    Locks live in `lock_dir` (default: $TMPDIR/transfer-atlas-gpu-locks) and are released when
    the process exits. Raises DeviceError when fewer than `n` are free (Snakemake's `gpu`
    resource limit, set by the default profile to the visible GPUs, should prevent that)."""
    ids = visible_gpus()
    if not ids:
        return []  # require_cuda reports it
    folder = Path(lock_dir or Path(tempfile.gettempdir()) / "transfer-atlas-gpu-locks")
    folder.mkdir(parents=True, exist_ok=True)
    got = []
    for gpu in ids:
        fh = open(folder / f"gpu{gpu}.lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            continue
        _HELD.append(fh)
        got.append(gpu)
        if len(got) == n:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(got)
            log.info("claimed GPU %s of visible %s", ",".join(got), ",".join(ids))
            return got
    raise DeviceError(
        f"{n} GPU(s) requested but only {len(got)} of the visible GPUs {ids} are free "
        "(run with --resources gpu=<number of GPUs> so that Snakemake does not start more GPU jobs)"
    )


def require_cuda(gpus: int, who: str) -> None:
    """Raise DeviceError unless CUDA is available with at least `gpus` devices."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() >= gpus:
        return
    build = torch.version.cuda
    why = (
        "this torch is a CPU-only build (install a CUDA wheel)"
        if build is None
        else f"torch was built with CUDA {build} but sees {torch.cuda.device_count()} device(s) "
        "(driver, node or CUDA_VISIBLE_DEVICES?)"
    )
    raise DeviceError(
        f"{who} declares gpu={gpus} but CUDA is not available: torch {torch.__version__}, {why}; "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}. "
        "Set resources.gpu: 0 in the config to run on the CPU on purpose."
    )


def device_info() -> dict:
    """Device, torch/CUDA versions and GPU names of this process (see the module docstring)."""
    import torch

    ok = torch.cuda.is_available()
    count = torch.cuda.device_count() if ok else 0
    return {
        "device": "cuda" if ok else "cpu",
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": ok,
        "gpu_count": count,
        "gpu_names": [torch.cuda.get_device_name(i) for i in range(count)],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
