"""Batched greedy generation with stop strings: continuous batching, or `generate()` per batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from transfer_atlas.decoding import Unsupported, continuous_greedy
from transfer_atlas.models import eos_ids
from transfer_atlas.scoring import encode_context

log = logging.getLogger(__name__)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


def _finish(tok, ids: list[int], stop: Sequence[str], eos: Sequence[int]) -> tuple[str, int]:
    """(text cut at the first stop string, n tokens up to the stop string or eos) of an answer.

    `eos`: every end-of-sequence id (transfer_atlas.models.eos_ids); the answer ends at the
    first of them (what follows is padding)."""
    end = next((i for i, t in enumerate(ids) if t in eos), None)
    if end is not None:
        ids = ids[:end]
    text = tok.decode(ids, skip_special_tokens=True)
    cut = truncate_at_stop(text, stop)
    n_tok = len(ids) if cut == text else len(tok(cut, add_special_tokens=False)["input_ids"])
    return cut, n_tok


def _stopper(tok, stop: Sequence[str], eos: Sequence[int]):
    """is_done(prompt index, ids) for continuous batching: any eos id, or a stop string in the
    answer.

    Only a tail of tokens long enough to hold any stop string is decoded, once per row and
    step; a hit there is confirmed on the whole answer, so a row ends exactly when generate()
    would have its stop string in the text.
    """
    eos = frozenset(eos)
    window = max((len(s) for s in stop), default=0) + 8

    def is_done(_prompt: int, ids: list[int]) -> bool:
        if ids[-1] in eos:
            return True
        if not stop:
            return False
        tail = tok.decode(ids[-window:], skip_special_tokens=True)
        if not any(s in tail for s in stop):
            return False
        text = tok.decode(ids, skip_special_tokens=True)
        return any(s in text for s in stop)

    return is_done


def _generate_batches(model, tok, prompts, order, max_new_tokens, stop, batch_size, progress, eos):
    """One `generate()` call per batch of `order`; each batch runs until its longest answer ends."""
    device = next(model.parameters()).device
    tok.padding_side = "left"
    results: list[list[int]] = [[] for _ in prompts]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = [prompts[i] for i in idx]
        plain = not (tok.bos_token and batch[0].startswith(tok.bos_token))  # as the harness: no 2nd BOS
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=plain).to(device)
        gen = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=tok.pad_token_id,
            eos_token_id=list(eos),
            stop_strings=stop or None,
            tokenizer=tok if stop else None,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        for row, i in zip(gen[:, enc["input_ids"].shape[1] :], idx):
            results[i] = row.tolist()
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return results


def _free_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def continuous_with_backoff(model, ids, order, max_new_tokens, pad, is_done, batch_size, progress, kv_budget):
    """`continuous_greedy`; on out-of-memory the finished answers are kept, the batch (and KV
    budget) is halved and the rest is finished; raises only when one row does not fit."""
    done: dict[int, list[int]] = {}
    remaining = list(order)
    while remaining:
        try:
            continuous_greedy(
                model,
                ids,
                remaining,
                max_new_tokens,
                pad,
                is_done,
                batch_size,
                progress,
                kv_budget,
                on_finish=lambda i, x: done.__setitem__(i, list(x)),
            )
            break
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            _free_memory()
            remaining = [i for i in remaining if i not in done]
            batch_size, kv_budget = batch_size // 2, (kv_budget // 2 if kv_budget else None)
            log.warning("out of memory: batch %d, %d prompts left", batch_size, len(remaining))
    return [done[i] for i in range(len(ids))]


@torch.no_grad()
def greedy_generate(
    model,
    tok,
    prompts: Sequence[str],
    max_new_tokens: int,
    stop: Sequence[str] = (),
    batch_size: int = 16,
    sort_by_length: bool = True,
    progress=None,
    continuous: bool = True,
    kv_budget: int | None = None,
) -> list[tuple[str, int]]:
    """Greedy continuation of each prompt: [(text cut at the first stop string, n output tokens)].

    `continuous`: keep `batch_size` rows decoding and refill finished slots with the next
    prompts (transfer_atlas.decoding); otherwise one `generate()` call per left-padded batch.
    With `sort_by_length` prompts enter longest first, so prefill batches pad little. Both
    give the greedy answer of each prompt on its own. The token count is the number of
    generated tokens up to the stop string or end of sequence; every id of
    `models.eos_ids` (tokenizer and generation config) ends a row. Continuous batching admits
    rows within `kv_budget` cache tokens and halves its batch on out-of-memory.
    """
    stop = [s for s in stop if s]
    if max_new_tokens <= 0 or not prompts:
        return [("", 0)] * len(prompts)
    ids = [encode_context(tok, p, tok.bos_token) for p in prompts]
    order = list(range(len(prompts)))
    if sort_by_length:
        order.sort(key=lambda i: -len(ids[i]))
    eos, answers = eos_ids(tok, model), None
    if continuous:
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        try:
            is_done = _stopper(tok, stop, eos)
            answers = continuous_with_backoff(
                model, ids, order, max_new_tokens, pad, is_done, batch_size, progress, kv_budget
            )
        except Unsupported:  # e.g. sliding-window caches: fall back to generate()
            pass
    if answers is None:
        answers = _generate_batches(
            model, tok, prompts, order, max_new_tokens, stop, batch_size, progress, eos
        )
    return [_finish(tok, a, stop, eos) for a in answers]
