"""Batched greedy generation with left padding and stop strings."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


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
) -> list[tuple[str, int]]:
    """Greedy continuation of each prompt: [(text cut at the first stop string, n output tokens)].

    Prompts are left-padded; with `sort_by_length` similar lengths share a batch. The token
    count is the number of generated tokens up to the stop string or end of sequence.
    """
    device = next(model.parameters()).device
    tok.padding_side = "left"
    lengths = [len(tok(p)["input_ids"]) for p in prompts]
    order = (
        sorted(range(len(prompts)), key=lambda i: -lengths[i])
        if sort_by_length
        else list(range(len(prompts)))
    )
    results: list[tuple[str, int]] = [("", 0)] * len(prompts)
    stop = [s for s in stop if s]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
        gen = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            stop_strings=stop or None,
            tokenizer=tok if stop else None,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        new = gen[:, enc["input_ids"].shape[1] :]
        for row, i in zip(new, idx):
            ids = row.tolist()
            if tok.eos_token_id in ids:  # eos, then padding
                ids = ids[: ids.index(tok.eos_token_id)]
            text = tok.decode(ids, skip_special_tokens=True)
            cut = truncate_at_stop(text, stop)
            n_tok = len(ids) if cut == text else len(tok(cut, add_special_tokens=False)["input_ids"])
            results[i] = (cut, n_tok)
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return results
