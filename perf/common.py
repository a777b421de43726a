"""Shared pieces of the benchmark scripts: workloads, timers, the JSON record."""

from __future__ import annotations

import json
import platform
import random
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_GSM8K = ROOT.parent / "shared" / "datasets" / "gsm8k" / "train.jsonl"


def gsm8k_like_records(n: int, seed: int = 0) -> tuple[list[dict], str]:
    """GSM8K-style (prompt, target) records: the real sample when present, else the trait suite."""
    rng = random.Random(seed)
    if SHARED_GSM8K.exists():
        rows = [json.loads(x) for x in SHARED_GSM8K.open()]
        rows = rng.sample(rows, n)
        recs = [{"prompt": f"Question: {r['question']}\nAnswer:", "target": " " + r["answer"]} for r in rows]
        return recs, f"gsm8k sample ({SHARED_GSM8K})"
    from transfer_atlas.tasks.synthetic import arith_small

    rows = arith_small(n, seed)
    return [
        {"prompt": f"Question: {r['question']}\nAnswer:", "target": " " + r["solution"]} for r in rows
    ], "arith_small"


def timed(fn, *args, **kwargs):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def reset_peak() -> None:
    """Start a new peak-memory window (GPU only; on CPU the process peak RSS is reported)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    """Peak memory in GiB: on a GPU what the caching allocator reserved (what the device must
    hold, and what runs out first), not the smaller allocated peak; on CPU the process peak RSS."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_reserved() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS (KiB -> GiB)


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU {platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def write_record(name: str, record: dict, folder: Path | None = None) -> Path:
    folder = Path(folder) if folder else ROOT / "perf" / "results"
    out = folder / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    record = {
        "versions": {"torch": torch.__version__, "python": platform.python_version(), **_lib_versions()},
        **record,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def _lib_versions() -> dict:
    import peft
    import transformers

    return {"transformers": transformers.__version__, "peft": peft.__version__}
