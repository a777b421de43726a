"""evaluate: score the base model or one adapter on one target.

results/predictions/{model}/{adapter}/{target}.jsonl, one row per example:
  id, prompt, gold, output (generated text, or the predicted choice), extracted (number
  extracted by the primary metric; generation only), correct (bool, primary metric),
  n_output_tokens; generation adds extracted_strict / extracted_flexible / correct_strict /
  correct_flexible; classify / multiple_choice add logprobs (one per choice), and
  pred_other / correct_other: the prediction under the other of acc / acc_norm, and
  pred_bytes / correct_bytes: under acc_bytes (`choice_picks`: acc_norm = argmax of the
  log-likelihood divided by the choice's length in characters without the target delimiter,
  acc_bytes = divided by its length in UTF-8 bytes, both as lm-evaluation-harness computes them).
results/scores/{model}/{adapter}/{target}.json: see `score_summary`; it is also the
predictions' sidecar: predictions_sha256 (of the JSONL file) and provenance
(transfer_atlas.provenance.record: versions, git commit, device, result-settings hash).
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
import torch

from transfer_atlas import io, prompts, provenance, scoring
from transfer_atlas.generation import greedy_generate
from transfer_atlas.models import load_model, load_tokenizer, pick_device
from transfer_atlas.runtime import device_info
from transfer_atlas.tasks import TaskCard
from transfer_atlas.tasks.textmatch import INVALID, parse_label, rouge_l

log = logging.getLogger(__name__)


def attach_adapter(model, adapter_dir: str | None, merge: bool):
    """Base model with the adapter applied: merged into the weights, or as peft layers."""
    if not adapter_dir:
        return model
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=False)
    return peft_model.merge_and_unload() if merge else peft_model.eval()


def _progress(what: str):
    def report(done: int, total: int) -> None:
        log.info("%s: %d/%d", what, done, total)

    return report


def _generate(model, tok, records, card: TaskCard, cfg: dict) -> list[tuple[str, int]]:
    """Greedy answers (text, n tokens) to the records' prompts, with progress logging."""
    prompts = [r["prompt"] for r in records]
    return greedy_generate(
        model,
        tok,
        prompts,
        card.max_new_tokens,
        card.stop,
        cfg["batch_size"],
        cfg["sort_by_length"],
        _progress("generated"),
        cfg["continuous_batching"],
        kv_budget=cfg.get("kv_token_budget"),
    )


def predict_generation(model, tok, records, card: TaskCard, cfg: dict) -> list[dict]:
    outputs = _generate(model, tok, records, card, cfg)
    rows = []
    for record, (text, n_tok) in zip(records, outputs):
        strict, flexible = scoring.extract_strict(text), scoring.extract_flexible(text)
        row = {
            "id": record["id"],
            "prompt": record["prompt"],
            "gold": record["label"],
            "output": text,
            "extracted_strict": strict,
            "extracted_flexible": flexible,
            "correct_strict": scoring.number_match(strict, record["label"]),
            "correct_flexible": scoring.number_match(flexible, record["label"]),
            "n_output_tokens": n_tok,
        }
        primary = "strict" if card.metric.endswith("strict") else "flexible"
        row["extracted"], row["correct"] = row[f"extracted_{primary}"], row[f"correct_{primary}"]
        if card.metric == "rouge_l":  # free text: `correct` is the ROUGE-L F1 (a fraction)
            row["extracted"], row["correct"] = text, rouge_l(text, record["label"])
        rows.append(row)
    return rows


def predict_choices(model, tok, records, card: TaskCard, cfg: dict) -> list[dict]:
    choices = [r["choices"] for r in records]
    logprobs = scoring.choice_logprobs(
        model,
        tok,
        [r["prompt"] for r in records],
        choices,
        cfg["batch_size"],
        sort_by_length=cfg["sort_by_length"],
        shared_prefix=cfg["shared_prefix"],
        trim_logits=cfg["trim_logits"],
        progress=_progress("scored"),
    )
    rows = []
    for record, options, lps in zip(records, choices, logprobs):
        labels = [o.strip() for o in options]
        picks = choice_picks(lps, options)
        pred, pred_norm = labels[picks["acc"]], labels[picks["acc_norm"]]
        if card.metric == "acc_norm":  # `output`/`correct` always follow the primary metric
            pred, pred_norm = pred_norm, pred
        rows.append(
            {
                "id": record["id"],
                "prompt": record["prompt"],
                "gold": record["label"],
                "output": pred,
                "pred_other": pred_norm,
                "pred_bytes": labels[picks["acc_bytes"]],
                "logprobs": lps,
                "correct": pred == record["label"],
                "correct_other": pred_norm == record["label"],
                "correct_bytes": labels[picks["acc_bytes"]] == record["label"],
                "n_output_tokens": len(tok(" " + pred, add_special_tokens=False)["input_ids"]),
            }
        )
    if card.also_generate or card.metric == "acc_generated":
        add_generated_labels(model, tok, records, rows, card, cfg)
    return rows


def choice_picks(logprobs: list[float], options: list[str], delimiter: str = " ") -> dict[str, int]:
    """Index of the chosen option under each harness metric: `acc` (largest log-likelihood),
    `acc_norm` (log-likelihood / the option's length in characters, without the target
    delimiter) and `acc_bytes` (/ its length in UTF-8 bytes, without the delimiter), as
    `lm_eval.api.task.ConfigurableTask.process_results` computes them."""
    texts = [o[len(delimiter) :] if delimiter and o.startswith(delimiter) else o for o in options]
    lls = np.asarray(logprobs, dtype=float)
    chars = np.array([max(1, len(t)) for t in texts], dtype=float)
    nbytes = np.array([max(1, len(t.encode("utf-8"))) for t in texts], dtype=float)
    return {
        "acc": int(np.argmax(lls)),
        "acc_norm": int(np.argmax(lls / chars)),
        "acc_bytes": int(np.argmax(lls / nbytes)),
    }


def add_generated_labels(model, tok, records, rows: list[dict], card: TaskCard, cfg: dict) -> None:
    """Greedy-generate an answer per record and parse a label from it (in place): adds
    generated, pred_generated (a label or "[invalid]"), correct_generated, n_generated_tokens.
    With metric `acc_generated` these become `output`/`correct`; the log-likelihood prediction
    moves to pred_loglik / correct_loglik."""
    outputs = _generate(model, tok, records, card, cfg)
    for row, (text, n_tok) in zip(rows, outputs, strict=True):
        pred = parse_label(text, card.labels)
        row.update(
            generated=text,
            pred_generated=pred,
            correct_generated=pred == row["gold"],
            n_generated_tokens=n_tok,
        )
        if card.metric == "acc_generated":
            row.update(
                pred_loglik=row["output"],
                correct_loglik=row["correct"],
                output=pred,
                correct=row["correct_generated"],
            )


def score_summary(rows: list[dict], card: TaskCard, cfg: dict, seed: int) -> dict:
    """Score file body. Values in points (0-100); ci95 is a percentile bootstrap of the mean."""
    correct = [float(r["correct"]) for r in rows]
    summary = {
        "metric": card.metric,
        "value": 100 * float(np.mean(correct)),
        "n": len(rows),
        "ci95": scoring.bootstrap_ci(correct, cfg["bootstrap"], seed),
        "metrics": {},
        "output_tokens": scoring.length_summary([r["n_output_tokens"] for r in rows]),
    }
    if card.is_generation:
        for kind in ("strict", "flexible"):
            summary["metrics"][f"exact_match_{kind}"] = 100 * float(
                np.mean([r[f"correct_{kind}"] for r in rows])
            )
        if card.metric == "rouge_l":
            summary["metrics"]["rouge_l"] = summary["value"]
    else:
        labels = list(card.labels) or sorted({r["gold"] for r in rows})
        other = 100 * float(np.mean([r["correct_other"] for r in rows]))
        loglik = 100 * float(np.mean([r.get("correct_loglik", r["correct"]) for r in rows]))
        first = "acc_norm" if card.metric == "acc_norm" else "acc"
        summary["metrics"] = {first: loglik, ("acc" if first == "acc_norm" else "acc_norm"): other}
        if rows and "correct_bytes" in rows[0]:
            summary["metrics"]["acc_bytes"] = 100 * float(np.mean([r["correct_bytes"] for r in rows]))
        if rows and "pred_generated" in rows[0]:
            generated = [r["pred_generated"] for r in rows]
            summary["metrics"]["acc_generated"] = 100 * float(np.mean([r["correct_generated"] for r in rows]))
            summary["pred_distribution_generated"] = {lab: generated.count(lab) for lab in [*labels, INVALID]}
            summary["confusion_matrix_generated"] = scoring.confusion(
                [r["gold"] for r in rows], generated, labels
            )
        summary["labels"] = labels
        summary["confusion_matrix"] = scoring.confusion(
            [r["gold"] for r in rows], [r["output"] for r in rows], labels
        )
        summary["pred_distribution"] = {lab: Counter(r["output"] for r in rows).get(lab, 0) for lab in labels}
        summary["gold_distribution"] = {lab: Counter(r["gold"] for r in rows).get(lab, 0) for lab in labels}
    return summary


def load_for_eval(model_info: dict, adapter_dir: str | None, cfg: dict, dtype: str = "auto") -> dict:
    """The model with the adapter applied, its tokenizer and device: loaded once per job."""
    device = pick_device()
    model = attach_adapter(load_model(model_info, dtype, device), adapter_dir, cfg["merge_adapter"])
    merged = bool(adapter_dir and cfg["merge_adapter"])
    return {"model": model, "tok": load_tokenizer(model_info), "device": device, "merged": merged}


def score_cell(loaded: dict, model_info: dict, cell: dict, cfg: dict, started: float | None = None) -> dict:
    """Score one cell with a loaded model; write cell["predictions"] and cell["score"].

    `cell`: eval_path, card, predictions, score, meta, settings_sha256 (optional: the cell's
    result-settings hash, transfer_atlas.provenance). `elapsed_s` counts from `started`
    (default: now)."""
    t0 = time.perf_counter() if started is None else started
    meta, card, model = cell["meta"], cell["card"], loaded["model"]
    seed = meta.get("seed", 0) or 0
    records = io.read_jsonl(cell["eval_path"], ("id", "prompt", "target", "label"))
    if cfg.get("max_eval"):
        records = records[: cfg["max_eval"]]
    records = prompts.render_records(records, loaded["tok"], prompts.chat_settings(model_info))
    log.info(
        "%s on %s: %d examples on %s", meta.get("adapter"), meta.get("target"), len(records), loaded["device"]
    )
    if card.lm_eval:  # a harness task: its own task, metric and filter code
        from transfer_atlas import harness_task

        lm = card.lm_eval
        chat = prompts.chat_settings(model_info)
        limits = [n for n in (lm.get("limit"), cfg.get("max_eval")) if n]
        task_cfg = {**cfg, "max_eval": min(limits) if limits else None}
        rows, body = harness_task.evaluate(
            model, loaded["tok"], lm["task"], lm.get("include"), task_cfg, seed, chat
        )
    else:
        predict = predict_generation if card.is_generation else predict_choices
        rows = predict(model, loaded["tok"], records, card, cfg)
        body = score_summary(rows, card, cfg, seed)
    summary = {
        **meta,
        "task_type": card.type,
        **body,
        "model_sha256": model_info.get("weights_sha256"),
        "device": str(loaded["device"]),
        "environment": device_info(),
        "dtype": str(next(model.parameters()).dtype),
        "batch_size": cfg["batch_size"],
        "merged_adapter": loaded["merged"],
        "chat_template": bool(prompts.chat_settings(model_info)),
        "torch_threads": torch.get_num_threads(),
        "elapsed_s": time.perf_counter() - t0,
    }
    io.write_jsonl(cell["predictions"], rows)
    summary["predictions_sha256"] = io.sha256_file(cell["predictions"])
    summary["provenance"] = provenance.record(cell.get("settings_sha256"))
    io.write_json(cell["score"], summary)
    log.info("%s = %.2f (n=%d, %.1f s)", card.metric, summary["value"], len(rows), summary["elapsed_s"])
    return summary


def evaluate_cell(
    model_info: dict,
    adapter_dir: str | None,
    eval_path: str,
    card: TaskCard,
    cfg: dict,
    pred_out: str,
    score_out: str,
    meta: dict,
    dtype: str = "auto",
    settings_sha256: str | None = None,
) -> dict:
    """Score one (model, adapter, target) cell; `elapsed_s` includes loading the model."""
    t0 = time.perf_counter()
    loaded = load_for_eval(model_info, adapter_dir, cfg, dtype)
    cell = {"eval_path": eval_path, "card": card, "predictions": pred_out, "score": score_out, "meta": meta}
    cell["settings_sha256"] = settings_sha256
    return score_cell(loaded, model_info, cell, cfg, started=t0)


def evaluate_row(
    model_info: dict, adapter_dir: str | None, cells: list[dict], cfg: dict, dtype: str = "auto"
):
    """Score one adapter (or the base model) on many targets, loading and merging it once.

    `cells` as in `score_cell`, one per target; each cell's files are written as soon as it
    is scored, and its `elapsed_s` is its scoring time (the shared load is logged once)."""
    t0 = time.perf_counter()
    loaded = load_for_eval(model_info, adapter_dir, cfg, dtype)
    log.info("loaded once for %d targets in %.1f s", len(cells), time.perf_counter() - t0)
    return [score_cell(loaded, model_info, cell, cfg) for cell in cells]
