"""preflight: estimated peak GPU memory and runtime of every GPU job, before any of them runs.

results/preflight/estimates.csv, one row per job kind (seeds of a training job and
adapters of an evaluation job share their row: same shapes):
  job (train_lora | evaluate), model, dataset (source, or target of an evaluate cell),
  peak_gib, runtime_min, weights_gib (the model's weights: what the job loads into host
  memory first), fits (peak_gib <= resources.gpu_mem_gb), detail (the largest terms)
Every model job's SLURM request (runtime, mem_mb, gpu_mem_mb) is computed from its row, times
the attempt (transfer_atlas.requests). A job that does not fit fails the rule with its name and why, so no GPU job starts.

Lengths: from results/data/{dataset}/profile.json when given (the model's token counts:
max prompt + target for training, max eval prompt for evaluation memory, mean eval prompt
for its runtime), else the worst case (train.max_length; evaluation prompts of
`DEFAULT_PROMPT_TOKENS`). Evaluation runtime: scoring every choice (or label) as its own
sequence plus the prefill, compute bound, plus the decode steps, bandwidth bound.
"""

from __future__ import annotations

import logging
import math

import pandas as pd

from transfer_atlas import io, memory, requests
from transfer_atlas.tasks import load_card
from transfer_atlas.validation import plan

log = logging.getLogger(__name__)
DEFAULT_PROMPT_TOKENS = 1024
MC_CHOICES = 4  # choices assumed per multiple-choice item (ARC, MMLU, HellaSwag: 4) for runtimes
COLUMNS = ["job", "model", "dataset", "peak_gib", "runtime_min", "weights_gib", "fits", "detail"]


class PreflightError(RuntimeError):
    """A GPU job's estimated peak memory exceeds resources.gpu_mem_gb."""


def _tokens(profile: dict | None, model: str, split: str, part: str, key: str) -> float | None:
    try:
        return float(profile["splits"][split]["tokens"][model][part][key])
    except (KeyError, TypeError):
        return None


def gpu_dtype(model: dict) -> str:
    """The model's dtype on a GPU: `auto` (the schema default) is bfloat16 there (models.pick_dtype)."""
    dtype = model.get("dtype", "auto")
    return "bfloat16" if dtype == "auto" else dtype


def train_row(
    model: dict, shape: str, source: str, config: dict, profile: dict | None, spec: dict | None = None
) -> dict:
    train, res = config["train"], config["resources"]
    est = memory.train_peak(shape, train, gpu_dtype(model))
    mean = (_tokens(profile, model["name"], "train", "prompt", "mean") or 0) + (
        _tokens(profile, model["name"], "train", "target", "mean") or 0
    )
    n_train = (
        ((profile or {}).get("splits", {}).get("train", {}).get("n"))
        or (spec or {}).get("n_train")  # before the data is prepared: the configured size
        or train["batch_size"]
    )
    n_train -= round((train.get("val_fraction") or 0) * n_train)
    steps = plan(train, max(1, n_train))["steps"]  # `epochs` or `steps` (transfer_atlas.validation)
    tokens = steps * train["batch_size"] * min(mean or train["max_length"], train["max_length"])
    seconds = memory.train_runtime_s(est["n_params"], tokens, est["checkpointing"], res["gpu_tflops"])
    return _row("train_lora", model["name"], source, est, seconds, res, ("activations", "loss", "weights"))


def eval_row(model: dict, shape: str, target: str, spec: dict, config: dict, profile: dict | None) -> dict:
    res, batch = config["resources"], config["evaluate"]["batch_size"]
    card = load_card(spec["task"])
    prompt = _tokens(profile, model["name"], "eval", "prompt", "max") or DEFAULT_PROMPT_TOKENS
    generate = card.is_generation or card.also_generate
    new = card.max_new_tokens if generate else 8
    kv_budget = config["evaluate"].get("kv_token_budget")
    dtype = gpu_dtype(model)
    est = memory.eval_peak(shape, dtype, batch, int(prompt), new, kv_budget, generate=generate)
    n = spec.get("n_eval") or (profile or {}).get("splits", {}).get("eval", {}).get("n") or 1000
    mean = _tokens(profile, model["name"], "eval", "prompt", "mean") or prompt
    # every choice scored as its own sequence (an upper bound: single-token choices share one)
    scored = 0 if card.is_generation else n * mean * max(len(card.labels), MC_CHOICES)
    seconds = memory.forward_runtime_s(
        est["n_params"], scored + (n * mean if generate else 0), res["gpu_tflops"]
    )
    if generate:
        steps = math.ceil(n / batch) * new
        seconds += memory.generation_runtime_s(est["weights"], est["kv_cache"], steps, res["gpu_tb_s"])
    return _row("evaluate", model["name"], target, est, seconds, res, ("eval_work", "weights", "kv_cache"))


def _row(job, model, dataset, est, seconds, res, terms) -> dict:
    peak = est["total"] / memory.GIB
    return {
        "job": job,
        "model": model,
        "dataset": dataset,
        "peak_gib": round(peak, 2),
        "runtime_min": round(seconds / 60, 1),
        "weights_gib": round(est["weights"] / memory.GIB, 2),
        "fits": peak <= res["gpu_mem_gb"],
        "detail": "; ".join(f"{t} {est[t] / memory.GIB:.1f} GiB" for t in terms),
    }


def estimate(
    config: dict, datasets: dict, shapes: dict[str, str], profiles: dict | None = None
) -> list[dict]:
    """Rows of estimates.csv for every model x source (training) and model x target (evaluation)."""
    from transfer_atlas.config import sources, targets

    profiles = profiles or {}
    rows = []
    for model in config["models"]:
        shape = shapes[model["name"]]
        rows += [train_row(model, shape, s, config, profiles.get(s), datasets[s]) for s in sources(config)]
        rows += [eval_row(model, shape, t, datasets[t], config, profiles.get(t)) for t in targets(config)]
    return rows


def run(
    config: dict, datasets: dict, shapes: dict[str, str], profile_paths: dict, out_csv: str | None
) -> list[dict]:
    """Write estimates.csv (unless `out_csv` is None), log every job's estimate, raise
    PreflightError if one does not fit."""
    profiles = {name: io.read_json(path) for name, path in profile_paths.items()}
    rows = estimate(config, datasets, shapes, profiles)
    for r in rows:
        asks = requests.requests(requests.combine([r]), config["resources"], requests.stage(r["job"]), 1)
        log.info(
            "%-10s %-24s %-20s peak %6.1f GiB  ~%6.1f min  %s  | asks %d min, %d MB host, %d MiB GPU",
            *[r[k] for k in COLUMNS[:5]],
            r["detail"],
            *[asks[k] for k in ("runtime", "mem_mb", "gpu_mem_mb")],
        )
    bad = [r for r in rows if not r["fits"]]
    if bad:
        limit = config["resources"]["gpu_mem_gb"]
        names = "; ".join(
            f"{r['job']} {r['model']}/{r['dataset']}: {r['peak_gib']} GiB ({r['detail']})" for r in bad
        )
        raise PreflightError(
            f"{len(bad)} job(s) exceed resources.gpu_mem_gb = {limit}: {names}. Lower train.micro_batch_tokens "
            "or evaluate.batch_size, or turn on train.gradient_checkpointing / autocast."
        )
    if out_csv:
        io.write_csv(out_csv, pd.DataFrame(rows, columns=COLUMNS))
    return rows


def model_shapes(config: dict, results: str = "results") -> dict[str, str]:
    """Where each model's architecture is read: models[].shape, else the prepared model's
    load_path (results/models/{model}/model_info.json)."""
    out = {}
    for m in config["models"]:
        out[m["name"]] = (
            m.get("shape") or io.read_json(f"{results}/models/{m['name']}/model_info.json")["load_path"]
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m transfer_atlas.preflight CONFIG.yaml [--out CSV]: print every job's estimate."""
    import argparse
    from pathlib import Path

    from transfer_atlas.config import load_config, resolve_datasets

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(args.config)
    datasets = resolve_datasets(config)
    profiles = {d: p for d in datasets if (p := Path(f"results/data/{d}/profile.json")).exists()}
    try:
        run(config, datasets, model_shapes(config), profiles, args.out)
    except PreflightError as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
