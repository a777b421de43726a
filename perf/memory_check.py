"""Check the memory model (transfer_atlas.memory) against one measured CPU training step.

    python perf/memory_check.py --model-dir DIR --rows 4 --width 256 [--out perf/results]

For one LoRA training step (fp32, no checkpointing, no autocast: what the CPU runs) on
`rows` x `width` tokens it measures, in a fresh process:
  saved_bytes   bytes the whole forward (decoder + target-only head + loss) keeps for the
                backward pass (saved_tensors_hooks, each storage counted once)
  rss_step      peak RSS during the step minus RSS just before it (ru_maxrss, Linux KiB)
and compares them with the estimate: activations + the fp32 log-softmax the loss keeps
(saved bytes), and activations + the loss term (logits, log-softmax, their gradients) +
LoRA state (RSS; the model's weights were resident before the step). Prints and writes one JSON record:
  model, n_params, rows, width, measured {saved_bytes, rss_step}, estimated {...},
  error {saved, rss} (estimate / measured - 1).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transfer_atlas import memory  # noqa: E402
from transfer_atlas.batching import IGNORE  # noqa: E402
from transfer_atlas.models import load_model  # noqa: E402
from transfer_atlas.train import lora_model  # noqa: E402
from transfer_atlas.train_step import target_loss_sum  # noqa: E402

LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def measure(model_dir: str, rows: int, width: int) -> dict:
    torch.manual_seed(0)
    model = lora_model(load_model({"load_path": model_dir}, "float32", torch.device("cpu")), LORA).train()
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

    before = _rss()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = target_loss_sum(model, batch)
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "saved_bytes": sum(storages.values()),
        "rss_step": peak - before if peak > peak_before else None,
        "n_params": sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n),
    }


def estimate(model_dir: str, rows: int, width: int) -> dict:
    train = {
        **LORA,
        "batch_size": rows,
        "max_length": width,
        "gradient_checkpointing": False,
        "autocast": False,
    }
    est = memory.train_peak(str(model_dir), train, "float32", on_gpu=False)
    target_tokens = rows * (width - width // 4)
    saved = est["activations"] + min(target_tokens, memory.LOSS_CHUNK) * est["vocab"] * 4  # fp32 log-softmax
    return {"saved_bytes": saved, "rss_step": est["activations"] + est["loss"] + est["lora_state"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--out", default=None, help="folder for the JSON record (default: print only)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    measured = measure(args.model_dir, args.rows, args.width)
    est = estimate(args.model_dir, args.rows, args.width)
    record = {
        "model": args.model_dir,
        "rows": args.rows,
        "width": args.width,
        "n_params": measured.pop("n_params"),
        "measured": measured,
        "estimated": est,
        "error": {k: (est[k] / measured[k] - 1 if measured[k] else None) for k in est},
    }
    print(json.dumps(record, indent=2))
    if args.out:
        out = (
            Path(args.out) / f"memory-check-{Path(args.model_dir).name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
