"""Memory model: estimated peak GPU memory (bytes) of a training or evaluation job.

The model is built on the meta device from its config (no weights, no download), wrapped
in the same peft LoRA as training, and one decoder layer is run on meta tensors of the job's
micro-batch shape under `torch.autograd.graph.saved_tensors_hooks`: the bytes it keeps for
the backward pass are counted exactly for this architecture, dtype, LoRA and dropout (no
per-architecture formula). The rest is arithmetic:

train peak = weights (n_params x dtype bytes)
           + LoRA state (params, grads, AdamW m and v: 16 bytes per trainable parameter)
           + activations: gradient checkpointing -> one hidden state per layer
             (rows x width x hidden x dtype bytes) + one layer's saved tensors (recomputed
             in the backward pass); without -> every layer's saved tensors
           + loss: LM head at target positions (<= rows x width of them, at most
             `LOSS_CHUNK` at once): bf16 logits + fp32 logits, log-softmax and gradient
           + backward transients (2 x rows x width x hidden x dtype bytes)
           + OVERHEAD_BYTES (CUDA context, cuBLAS workspace), then x ALLOCATOR_FACTOR
             (temporaries and allocator caching; calibrated on a measured CPU step)
eval peak  = weights + max(generation, scoring):
  generation: KV cache of `batch` rows (fewer when evaluate.kv_token_budget admits fewer) x
              (longest prompt + max_new_tokens, rounded up to the decoder's spare steps)
              tokens, times 1 + 1/layers while the continuous-batching
              cache is rebuilt layer by layer, + one layer's
              prefill intermediates (rows x tokens x (6 hidden + 3 intermediate) elements;
              no gradient, so nothing else is kept) of the rows admitted at once (the KV
              budget limits them too) + last-position fp32 logits;
  scoring:    the prefill intermediates of `batch` rows (no KV cache: use_cache=False;
              logits only at the scored positions, log-probabilities as logit - logsumexp: no
              float32 vocabulary-sized copies).

Runtimes: training 2N FLOPs per token forward + 2N backward (frozen base: no weight
gradients) + 2N recompute with checkpointing, at `mfu` of `gpu_tflops`; scoring and prefill
2N FLOPs per token, the same way; decoding is bandwidth bound: each decode step reads the
weights and the cache once (`gpu_tb_s`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from transfer_atlas.decoding import HEADROOM
from transfer_atlas.train_step import LOSS_CHUNK

GIB = 2**30
OVERHEAD_BYTES = 1 * GIB
# Measured on CPU (perf/memory_check.py, perf/results/memory-check-*.json, fp32): torch's
# allocated peak is at or below the estimate in every phase (SmolLM2-135M: training step
# +9%, scoring +14%, generation +25%, the KV cache exact; tiny model +13..+49%). Peak RSS is
# higher than the allocations (SmolLM2's step: 2578 MB allocated, 4350 MB RSS in a fresh
# process: the memory-mapped checkpoint paged in, ~0.5 GB, which a GPU holds as `weights`,
# plus heap the C allocator keeps after frees). The GPU's caching allocator reserves more
# than it allocates too; this factor covers that and the temporaries. Not measured on a GPU.
ALLOCATOR_FACTOR = 1.4
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class Shape:
    """Sizes of a model that the memory model needs (bytes of one weight element: `wbytes`)."""

    n_params: int
    n_layers: int
    hidden: int
    intermediate: int
    vocab: int
    kv_heads: int
    head_dim: int
    wbytes: int


def load_config(source: str | Path):
    """A transformers config from a config.json file, a checkpoint folder or a hub id (read
    from the local cache when HF_HUB_OFFLINE is set)."""
    from transformers import AutoConfig

    path = Path(source)
    if not path.is_file():
        return AutoConfig.from_pretrained(str(source))
    raw = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    return AutoConfig.for_model(raw.pop("model_type"), **raw)


def meta_model(config, dtype: torch.dtype, lora: dict | None = None):
    """The causal LM on the meta device (and its peft LoRA wrapper when `lora` is given)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    if lora:
        from transfer_atlas.train import lora_model

        model = lora_model(model, lora)
    return model


def shape_of(model) -> Shape:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cfg = base.config
    n_params = sum(p.numel() for n, p in base.named_parameters() if "lora_" not in n)
    heads = cfg.num_attention_heads
    return Shape(
        n_params=n_params,
        n_layers=cfg.num_hidden_layers,
        hidden=cfg.hidden_size,
        intermediate=getattr(cfg, "intermediate_size", 4 * cfg.hidden_size),
        vocab=cfg.vocab_size,
        kv_heads=getattr(cfg, "num_key_value_heads", None) or heads,
        head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // heads,
        wbytes=next(base.parameters()).element_size(),
    )


def layer_saved_bytes(model, rows: int, width: int) -> int:
    """Bytes of activations one decoder layer keeps for the backward pass on a [rows, width]
    batch, counted on meta tensors (a tensor saved by several operations, or its views, counted
    once; weights are not activations and are left out)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder()
    layer = decoder.layers[0]
    dtype = next(base.parameters()).dtype
    hidden = torch.zeros(rows, width, base.config.hidden_size, dtype=dtype, device="meta")
    hidden.requires_grad_(True)
    pos = torch.arange(width, device="meta")[None].expand(rows, width)
    cos_sin = decoder.rotary_emb(hidden, pos)
    params = {id(p) for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        base_t = t._base if t._base is not None else t
        square = t.dim() >= 3 and t.shape[-1] == t.shape[-2] == width > 1
        if id(t) not in params and id(base_t) not in params and not square:
            seen[id(base_t)] = max(seen.get(id(base_t), 0), t.numel() * t.element_size())
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.enable_grad():
        layer(hidden, attention_mask=None, position_ids=pos, position_embeddings=cos_sin)
    # On meta, SDPA takes the math path and keeps [rows, heads, width, width] probabilities; on a
    # GPU (and CPU) the fused kernels keep a row log-sum-exp instead: count that.
    return sum(seen.values()) + rows * base.config.num_attention_heads * width * 4


@lru_cache(maxsize=16)
def _cached_model(config_source: str, dtype: str, lora_json: str, autocast: bool):
    lora = json.loads(lora_json) if lora_json else None
    model = meta_model(load_config(config_source), DTYPES[dtype], lora)
    if autocast and lora:  # autocast runs the fp32 LoRA matmuls in bf16: saved inputs are bf16
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.data = p.data.to(DTYPES[dtype])
    return model


def train_peak(
    config_source: str, train: dict, dtype: str, on_gpu: bool = True, full_logits: bool = False
) -> dict:
    """Estimated peak bytes of one training step (keys: total and each term, in bytes).

    `train`: the config's train block (r, alpha, dropout, target_modules, batch_size,
    max_length, micro_batch_tokens, gradient_checkpointing, autocast); the micro-batch is the
    worst case: rows x max_length tokens within the token budget. `full_logits`: the step
    before transfer_atlas.train_step (LM head and loss at every position)."""
    ckpt = _setting(train.get("gradient_checkpointing", "auto"), on_gpu)
    autocast = _setting(train.get("autocast", "auto"), on_gpu) and dtype != "float32"
    lora = {k: train[k] for k in ("r", "alpha", "dropout", "target_modules")}
    model = _cached_model(str(config_source), dtype, json.dumps(lora, sort_keys=True), autocast)
    s = shape_of(model)
    width = train["max_length"]
    budget = train.get("micro_batch_tokens") or train["batch_size"] * width
    rows = max(1, min(train["batch_size"], budget // width))
    n_lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    layer = layer_saved_bytes(model, rows, width)
    tokens = rows * width
    hidden_bytes = tokens * s.hidden * s.wbytes
    act = s.n_layers * hidden_bytes + layer if ckpt else s.n_layers * layer
    terms = {
        "weights": s.n_params * s.wbytes,
        "lora_state": 16 * n_lora,
        "activations": act,
        "loss": (tokens if full_logits else min(tokens, LOSS_CHUNK)) * s.vocab * (s.wbytes + 12),
        "backward_transients": 2 * hidden_bytes,
    }
    extra = {"rows": rows, "width": width, "checkpointing": ckpt, "autocast": autocast}
    return _total(terms) | extra | {"n_params": s.n_params, "vocab": s.vocab, "wbytes": s.wbytes}


def eval_peak(
    config_source: str,
    dtype: str,
    batch: int,
    prompt_tokens: int,
    new_tokens: int,
    kv_budget: int | None = None,
    cache_copies: float | None = None,
    generate: bool = True,
) -> dict:
    """Estimated peak bytes of an evaluation job (generation and scoring at `batch` rows).

    The cache holds the rows admitted at once (`batch`, or as many as `kv_budget` admits at
    prompt + new tokens each, as transfer_atlas.decoding does) x the buffer's steps (prompt +
    new rounded up to decoding.HEADROOM, the spare steps it grows by; at least prompt +
    HEADROOM); `cache_copies` (default 1 + 1/layers: the layer-by-layer rebuild of
    transfer_atlas.decoding; 3 before it) is the cache's peak while rows join. `generate`:
    False for targets that are only scored (classify / multiple choice; no KV cache)."""
    model = _cached_model(str(config_source), dtype, "", False)
    s = shape_of(model)
    kv_per_token = s.n_layers * 2 * s.kv_heads * s.head_dim * s.wbytes
    admitted = min(batch, max(1, kv_budget // (prompt_tokens + new_tokens))) if kv_budget else batch
    steps = prompt_tokens + HEADROOM * max(1, math.ceil((new_tokens - 1) / HEADROOM))
    kv = admitted * steps * kv_per_token
    copies = 1 + 1 / s.n_layers if cache_copies is None else cache_copies
    per_token = (6 * s.hidden + 3 * s.intermediate) * s.wbytes  # one layer's no-grad intermediates
    generation = kv * copies + admitted * prompt_tokens * per_token + admitted * s.vocab * 4
    scoring = batch * prompt_tokens * per_token + batch * 8 * 4  # + [batch, 8] float32 log-sum-exps
    terms = {"weights": s.n_params * s.wbytes, "eval_work": max(generation, scoring) if generate else scoring}
    extra = {"generation": generation if generate else 0, "scoring": scoring, "n_params": s.n_params}
    return _total(terms) | {"kv_cache": kv if generate else 0} | extra


def train_runtime_s(n_params: int, tokens: int, ckpt: bool, gpu_tflops: float, mfu: float = 0.4) -> float:
    """Seconds to train on `tokens` tokens (see the module docstring)."""
    return tokens * (6 if ckpt else 4) * n_params / (gpu_tflops * 1e12 * mfu)


def forward_runtime_s(n_params: int, tokens: int, gpu_tflops: float, mfu: float = 0.4) -> float:
    """Seconds of no-grad forward passes over `tokens` tokens (scoring, prefill: compute bound,
    2N FLOPs per token) at `mfu` of `gpu_tflops`."""
    return tokens * 2 * n_params / (gpu_tflops * 1e12 * mfu)


STEP_OVERHEAD_S = 0.025  # assumed per decode step: kernel launches of an eager HF model (not measured)


def generation_runtime_s(weight_bytes: int, kv_bytes: int, steps: int, gpu_tb_s: float) -> float:
    """Seconds for `steps` decode steps that each read the weights and the cache once, plus
    STEP_OVERHEAD_S each."""
    return steps * ((weight_bytes + kv_bytes) / (gpu_tb_s * 1e12) + STEP_OVERHEAD_S)


def _setting(value, on_gpu: bool) -> bool:
    return on_gpu if value == "auto" else bool(value)


def _total(terms: dict) -> dict:
    total = math.ceil((sum(terms.values()) + OVERHEAD_BYTES) * ALLOCATOR_FACTOR)
    return {"total": total, **terms}
