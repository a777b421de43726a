"""Check the memory model (transfer_atlas.memory) against memory measured on the CPU.

    python perf/memory_check.py --model-dir DIR [--rows 4 --width 256]
                                [--eval-rows 8 --prompt 256 --new 64] [--out perf/results]

The model is loaded once in float32 (what the CPU runs; no checkpointing, no autocast) and
three phases run after it, each measured two ways:
  allocated  peak bytes held by torch's CPU allocator during the phase, above what it held
             before (torch.profiler memory events: every allocation and free of the phase,
             summed in order) -- the analogue of a GPU's allocated memory, which the memory
             model estimates (its total then adds OVERHEAD_BYTES and x ALLOCATOR_FACTOR)
  rss        peak RSS during the phase minus RSS before it (the peak is reset before each phase
             through /proc/self/clear_refs; Linux)
Phases and what they are compared with (memory.train_peak / memory.eval_peak terms):
  train     one LoRA step on rows x width tokens, a quarter of each row prompt; also
            saved_bytes (saved_tensors_hooks, each storage once) vs activations + the fp32
            log-softmax the loss keeps. allocated vs activations + loss + LoRA state + backward
            transients, at the step's target positions.
  score     one no-grad forward over eval-rows prompts of `prompt` tokens, LM head at the last
            position (transfer_atlas.scoring's path for single-token choices) vs the `scoring` term.
  generate  continuous batching (transfer_atlas.decoding) of eval-rows prompts of `prompt`
            tokens, `new` tokens each; also kv_bytes (the cache's buffers at their largest) vs
            the `kv_cache` term; allocated vs the `generation` term.
--train-only runs the training phase alone, right after the load (the RSS of a phase depends on
what the process allocated and freed before it; torch's allocated bytes do not).
Prints and writes (with --out) one JSON record: model, n_params, shapes, and per phase
{measured, estimated, error} with error = estimated / measured - 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transfer_atlas import decoding, memory  # noqa: E402
from transfer_atlas.batching import IGNORE  # noqa: E402
from transfer_atlas.models import load_model  # noqa: E402
from transfer_atlas.scoring import _forward_last  # noqa: E402
from transfer_atlas.train import lora_model  # noqa: E402
from transfer_atlas.train_step import target_loss_sum  # noqa: E402

LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measured_phase(fn) -> tuple[object, dict]:
    """Run fn(); return (its result, {allocated, rss}) as described in the module docstring."""
    from torch.profiler import ProfilerActivity, profile

    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    rss_before = _status_kib("VmRSS") * 1024
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    rss_peak = _status_kib("VmHWM") * 1024
    with tempfile.TemporaryDirectory() as tmp:
        prof.export_chrome_trace(f"{tmp}/trace.json")
        events = json.loads(Path(f"{tmp}/trace.json").read_text())["traceEvents"]
    memory_events = [e for e in events if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0]
    live = peak = 0
    for e in sorted(memory_events, key=lambda e: e["ts"]):
        live += e["args"]["Bytes"]
        peak = max(peak, live)
    return out, {"allocated": peak, "rss": rss_peak - rss_before}


def train_phase(model, rows: int, width: int) -> dict:
    vocab = model.get_base_model().config.vocab_size
    ids = torch.randint(0, vocab, (rows, width))
    labels = ids.clone()
    labels[:, : width // 4] = IGNORE  # a quarter of each row is prompt
    batch = {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}
    storages: dict[int, int] = {}
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(t):
        if t.untyped_storage().data_ptr() not in weights:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    def step():
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = target_loss_sum(model, batch)
        loss.backward()

    _, measured = measured_phase(step)
    model.zero_grad(set_to_none=True)
    return measured | {"saved_bytes": sum(storages.values())}


def train_estimate(model_dir: str, rows: int, width: int) -> dict:
    train = {
        **LORA,
        "batch_size": rows,
        "max_length": width,
        "gradient_checkpointing": False,
        "autocast": False,
    }
    est = memory.train_peak(str(model_dir), train, "float32", on_gpu=False)
    target_positions = min(rows * (width - width // 4), memory.LOSS_CHUNK)
    loss = target_positions * est["vocab"] * (est["wbytes"] + 12)  # at the step's target positions
    return {
        "saved_bytes": est["activations"] + target_positions * est["vocab"] * 4,  # + fp32 log-softmax
        "allocated": est["activations"] + loss + est["lora_state"] + est["backward_transients"],
    }


def score_phase(model, rows: int, prompt: int) -> dict:
    vocab = model.config.vocab_size
    seqs = torch.randint(0, vocab, (rows, prompt)).tolist()
    _, measured = measured_phase(lambda: _forward_last(model, 0, True, seqs, 1))
    return measured


def generate_phase(model, rows: int, prompt: int, new: int) -> dict:
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (rows, prompt)).tolist()
    kv = [0]
    step = decoding._step

    def counting_step(model_, batch):
        kv[0] = max(kv[0], sum(x._k.nbytes + x._v.nbytes for x in batch.cache.layers))
        return step(model_, batch)

    decoding._step = counting_step
    try:
        out, measured = measured_phase(
            lambda: decoding.continuous_greedy(model, ids, range(rows), new, 0, lambda i, t: False, rows)
        )
    finally:
        decoding._step = step
    assert all(len(x) == new for x in out)
    return measured | {"kv_bytes": kv[0]}


def eval_estimates(model_dir: str, rows: int, prompt: int, new: int) -> tuple[dict, dict]:
    score = memory.eval_peak(str(model_dir), "float32", rows, prompt, 1, generate=False)
    gen = memory.eval_peak(str(model_dir), "float32", rows, prompt, new, generate=True)
    return {"allocated": score["scoring"]}, {"allocated": gen["generation"], "kv_bytes": gen["kv_cache"]}


def _compare(measured: dict, estimated: dict) -> dict:
    error = {k: (estimated[k] / measured[k] - 1 if measured.get(k) else None) for k in estimated}
    return {"measured": measured, "estimated": estimated, "error": error}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--eval-rows", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--train-only", action="store_true", help="only the training phase, right after the load")
    ap.add_argument("--out", default=None, help="folder for the JSON record (default: print only)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = load_model({"load_path": args.model_dir}, "float32", torch.device("cpu"))
    n_params = sum(p.numel() for p in model.parameters())
    record = {"model": args.model_dir, "n_params": n_params, "train_shape": [args.rows, args.width]}
    if not args.train_only:
        score_est, gen_est = eval_estimates(args.model_dir, args.eval_rows, args.prompt, args.new)
        record["eval_shape"] = {"rows": args.eval_rows, "prompt": args.prompt, "new": args.new}
        record["score"] = _compare(score_phase(model, args.eval_rows, args.prompt), score_est)
        record["generate"] = _compare(generate_phase(model, args.eval_rows, args.prompt, args.new), gen_est)
    lora = lora_model(model, LORA).train()
    record["train"] = _compare(
        train_phase(lora, args.rows, args.width), train_estimate(args.model_dir, args.rows, args.width)
    )
    print(json.dumps(record, indent=2))
    if args.out:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        name = Path(args.model_dir).name + ("-train-only" if args.train_only else "")
        out = Path(args.out) / f"memory-check-{name}-{stamp}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
