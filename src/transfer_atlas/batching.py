"""Tokenisation of training records and the batch schedule.

The whole schedule (which example indices form the batch of each step) is fixed up front
from the seed, so a resumed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import random

import torch

from transfer_atlas.scoring import encode_context

IGNORE = -100
CHUNK_BATCHES = 16  # `bucketed`: batches per length-sorted chunk of a shuffled epoch


def tokenize_records(tok, records: list[dict], max_length: int) -> list[dict]:
    """input_ids = prompt + target + eos, labels = -100 on prompt tokens (loss on target only).

    An example longer than `max_length` keeps the tail of its prompt (the end of the
    instruction, where the answer starts), at least min(prompt, max_length // 2) tokens of it,
    then as much of the target's start as fits, and always ends with eos: a cut code answer
    still follows its instruction instead of "code after one prompt token".
    """
    out = []
    for record in records:
        prompt = encode_context(tok, record["prompt"], tok.bos_token)  # no 2nd BOS on chat prompts
        target = tok(record["target"], add_special_tokens=False)["input_ids"]
        if len(prompt) + len(target) + 1 > max_length:
            keep_prompt = max(max_length - len(target) - 1, min(len(prompt), max_length // 2))
            prompt = prompt[len(prompt) - keep_prompt :]
            target = target[: max_length - len(prompt) - 1]
        target = target + [tok.eos_token_id]
        out.append({"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target})
    return out


def schedule(lengths: list[int], batch_size: int, steps: int, seed: int, mode: str) -> list[list[int]]:
    """Example indices for each step. `padded`: random batches; `bucketed`: each epoch is
    shuffled, cut into chunks of CHUNK_BATCHES batches, sorted by length inside a chunk, and the
    resulting batches are shuffled, so a batch holds examples of similar length."""
    rng = random.Random(seed)
    n = len(lengths)
    batches: list[list[int]] = []
    while len(batches) < steps:
        perm = list(range(n))
        rng.shuffle(perm)
        if mode == "bucketed":
            chunk = CHUNK_BATCHES * batch_size
            epoch = []
            for c in range(0, n, chunk):
                part = sorted(perm[c : c + chunk], key=lambda i: lengths[i])
                epoch += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
            rng.shuffle(epoch)
        else:
            epoch = [perm[b : b + batch_size] for b in range(0, n, batch_size)]
        batches += [b for b in epoch if b]
    return batches[:steps]


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding gets label -100 and attention 0."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for b, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[b, :n] = torch.tensor(e["input_ids"])
        labels[b, :n] = torch.tensor(e["labels"])
        mask[b, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
