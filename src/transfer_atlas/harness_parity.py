"""Parity of our scorer with lm-evaluation-harness on the same model and documents (used by
the parity tests and perf/bench_harness_route.py). Kept apart from `harness` so that the
evaluation path (evaluate -> harness_task -> harness) never imports `evaluate` back."""

from __future__ import annotations

import time

from transfer_atlas import evaluate, prompts
from transfer_atlas.harness import compare, doc_views, records_task, run


def parity(model, tok, records: list[dict], card, cfg: dict, folder, name: str, **options) -> dict:
    """Score `records` through our route and through the harness on the same model; returns
    `compare`'s summary plus seconds per route (`ours_s`, `harness_s`).

    options: train_records (few-shot pool; the harness draws `card.fewshot` examples from it,
    our records must carry the same draw, see `data.add_fewshot`), chat ({"apply",
    "fewshot_as_multiturn"}: prompts rendered with the tokenizer's chat template),
    softmax_dtype (the harness's HFLM option; "float64" makes its log-likelihoods exact to
    float32 rounding of the logits: torch's float32 `log_softmax` on a CPU over a 49k-token
    vocabulary is biased by about +7e-6 nats per token, 4.9e-4 over a 60-token continuation,
    while our float32 logit - logsumexp stays within 1e-4 of a float64 forward)."""
    chat = options.get("chat") or {}
    ours_in = prompts.render_records(records, tok, chat)
    t0 = time.perf_counter()
    predict = evaluate.predict_generation if card.is_generation else evaluate.predict_choices
    rows = predict(model, tok, ours_in, card, cfg)
    ours_s = time.perf_counter() - t0
    records_task(folder, name, records, card, options.get("train_records"))
    t0 = time.perf_counter()
    out = run(
        model,
        tok,
        folder,
        [name],
        batch_size=cfg["batch_size"],
        num_fewshot=card.fewshot,
        apply_chat_template=bool(chat.get("apply")),
        fewshot_as_multiturn=bool(chat.get("fewshot_as_multiturn")),
        softmax_dtype=options.get("softmax_dtype"),
    )
    harness_s = time.perf_counter() - t0
    summary = compare(rows, doc_views(out["samples"][name]), ours_in, card)
    return {**summary, "ours_s": ours_s, "harness_s": harness_s}
