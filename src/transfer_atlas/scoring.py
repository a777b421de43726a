"""Answer extraction, metrics and log-likelihood scoring of choices.

Extraction follows lm-evaluation-harness's `gsm8k` task:
- strict-match: the first `#### N` (regex `#### (\\-?[0-9\\.\\,]+)`),
- flexible-extract: the last number (regex `(-?[$0-9.,]{2,})|(-?[0-9]+)`),
then both sides are normalised by removing `,` and `$`, anything up to `#### `, and a
trailing `.`, and compared exactly. Scores are reported in points (0-100).
"""

from __future__ import annotations

import logging
import re
import statistics
from collections.abc import Sequence
from functools import partial

import numpy as np
import torch

from transfer_atlas.analysis.common import bootstrap_mean, percentile_interval
from transfer_atlas.decoding import left_pad

log = logging.getLogger(__name__)

STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
INVALID = "[invalid]"
_IGNORE = [re.compile(","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$")]


def _regex_pick(regex: re.Pattern, text: str, group_select: int) -> str:
    matches = regex.findall(text)
    if not matches:
        return INVALID
    match = matches[group_select]
    if isinstance(match, tuple):
        match = [m for m in match if m]
        match = match[0] if match else INVALID
    return match.strip()


def extract_strict(text: str) -> str:
    return _regex_pick(STRICT, text, 0)


def extract_flexible(text: str) -> str:
    return _regex_pick(FLEXIBLE, text, -1)


def normalize_number(text: str) -> str:
    for regex in _IGNORE:
        text = regex.sub("", text)
    return text.strip().lower()


def number_match(extracted: str, gold: str) -> bool:
    return extracted != INVALID and normalize_number(extracted) == normalize_number(gold)


def bootstrap_ci(correct: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean, in points."""
    values = np.asarray(correct, dtype=float)
    if len(values) == 0 or n_boot == 0:
        mean = 100 * float(values.mean()) if len(values) else float("nan")
        return (mean, mean)
    lo, hi = percentile_interval(bootstrap_mean(values, n_boot, np.random.default_rng(seed)))
    return (100 * lo, 100 * hi)


def length_summary(values: Sequence[int]) -> dict:
    """Mean, median, min, max and population std of output lengths (tokens)."""
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "std": statistics.pstdev(values),
    }


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts, rows = gold label, columns = predicted label, in `labels` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    return matrix


def prefix_token_text(tok) -> str | None:
    """The text of the token the harness treats as the sequence prefix (BOS, else EOS)."""
    token = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return None if token is None else tok.decode([token])


def encode_context(tok, text: str, prefix: str | None = None) -> list[int]:
    """Token ids of `text` as lm-evaluation-harness's HFLM encodes it: with the tokenizer's
    special tokens (e.g. a BOS it adds), unless `text` already starts with `prefix` (the BOS
    text: a chat-templated prompt), so BOS is never doubled."""
    if prefix and text.startswith(prefix):
        return tok(text, add_special_tokens=False)["input_ids"]
    return tok(text)["input_ids"]


def build_requests(tok, prompts: Sequence[str], choices: Sequence[Sequence[str]], max_length: int):
    """(example, choice, context_ids + continuation_ids, n_continuation) per pair, as the harness
    builds them (`lm_eval.api.model.LM._encode_pair`): trailing whitespace of the prompt moves
    to the continuation, and the continuation tokens are enc(prompt + choice)[len(enc(prompt)):],
    so tokenisation across the boundary matches how the whole string is tokenised.
    """
    prefix = prefix_token_text(tok)
    requests = []
    for i, (prompt, options) in enumerate(zip(prompts, choices)):
        stripped = prompt.rstrip()
        context = encode_context(tok, stripped, prefix)
        for j, option in enumerate(options):
            option = prompt[len(stripped) :] + option
            whole = encode_context(tok, stripped + option, prefix)
            cont = whole[len(context) :] or tok(option, add_special_tokens=False)["input_ids"]
            ids = (context + cont)[-(max_length + 1) :]
            requests.append((i, j, ids, len(cont)))
    return requests


def _batches(items: list, batch_size: int, key, sort: bool, process) -> None:
    """process(batch) over batches of `items` (longest first with `sort`). On out-of-memory the
    batch size is halved and the failed batch is redone; raises only when one item does not fit."""
    order = sorted(range(len(items)), key=lambda k: -key(items[k])) if sort else list(range(len(items)))
    start = 0
    while start < len(order):
        batch = [items[k] for k in order[start : start + batch_size]]
        try:
            process(batch)
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            log.warning("scoring out of memory: batch %d, %d items left", batch_size, len(order) - start)
            continue
        start += len(batch)


class _LogProbs:
    """Log-probabilities at the kept positions without a [batch, keep, vocab] float32
    log-softmax: the logits stay in the model's dtype and a float32 log-sum-exp per position
    is computed one row at a time (log p = logit - logsumexp, the same numbers)."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits
        self.lse = torch.stack([torch.logsumexp(row.float(), -1) for row in logits])

    def at(self, b: int, start: int, tokens: torch.Tensor) -> torch.Tensor:
        """float32 log-probabilities of `tokens` at positions start, start+1, ... of row b."""
        end = start + len(tokens)
        picked = self.logits[b, start:end].gather(-1, tokens[:, None].to(self.logits.device))[:, 0]
        return picked.float() - self.lse[b, start:end]


@torch.no_grad()
def _forward_last(model, pad: int, trim: bool, seqs: list[list[int]], keep: int) -> _LogProbs:
    """Log-probabilities at the last `keep` positions of each left-padded sequence (see
    `_LogProbs`). With `trim` the LM head runs on those positions only; otherwise on every
    position (full-sequence logits, as lm-evaluation-harness computes them)."""
    device = next(model.parameters()).device
    inp, mask, positions = left_pad(seqs, pad, device)
    out = model(  # use_cache=False: a scoring forward never reuses its keys/values (on by default in eval)
        input_ids=inp,
        attention_mask=mask,
        position_ids=positions,
        logits_to_keep=keep if trim else 0,
        use_cache=False,
    )
    return _LogProbs(out.logits[:, -keep:])


def _forwards(requests, shared_prefix: bool) -> list[tuple[list[int], list[tuple]]]:
    """The forward passes that score `requests`: (input ids, [(example, choice, position of
    the first continuation token's prediction, continuation ids), ...]) each. With
    `shared_prefix`, a request whose input (context + continuation[:-1]) is a prefix of another
    input of the same example is read from that longer forward (a causal model's
    log-probabilities at a position depend only on the tokens up to it): the choices of one
    example need one forward per distinct multi-token branch, and single-token choices none of
    their own (lm-evaluation-harness shares a forward only between identical inputs)."""
    by_example: dict[int, list] = {}
    for req in requests:
        by_example.setdefault(req[0], []).append(req)
    forwards: list[tuple[list[int], list[tuple]]] = []
    for reqs in by_example.values():
        own: list[tuple[list[int], list[tuple]]] = []
        for i, j, ids, n_cont in sorted(reqs, key=lambda r: -len(r[2])):
            inp = ids[:-1]
            member = (i, j, len(inp) - n_cont, ids[-n_cont:])
            host = next((f for f in own if f[0][: len(inp)] == inp), None) if shared_prefix else None
            if host is None:
                own.append((inp, [member]))
            else:
                host[1].append(member)
        forwards += own
    return forwards


def _score(forward, forwards, out, batch_size, sort, progress) -> None:
    """Run `forwards` in batches; out[example][choice] = the sum of its continuation's
    log-probabilities (float32)."""
    done = [0]

    def process(batch):
        keep = max(len(inp) - min(m[2] for m in members) for inp, members in batch)
        logp = forward([inp for inp, _ in batch], keep)
        for b, (inp, members) in enumerate(batch):
            for i, j, start, cont in members:
                out[i][j] = float(logp.at(b, keep - len(inp) + start, torch.tensor(cont)).sum())
        done[0] += len(batch)
        if progress:
            progress(done[0], len(forwards))

    _batches(forwards, batch_size, lambda f: len(f[0]), sort, process)


def choice_logprobs(
    model,
    tok,
    prompts,
    choices,
    batch_size: int = 16,
    max_length: int = 2048,
    sort_by_length: bool = True,
    shared_prefix: bool = True,
    progress=None,
    trim_logits: bool = True,
) -> list[list[float]]:
    """Sum of log-probabilities of each choice's tokens given its prompt: [example][choice].

    Sequences are left-padded with masked padding and their own position ids; with
    `trim_logits` the LM head runs only on the positions that predict a choice token. By
    default sequences are batched by length. With `shared_prefix`, a choice whose input is a
    prefix of another choice's input (every single-token choice, and e.g. " sports" beside
    " science/technology") is read from that choice's forward pass (see `_forwards`). Neither
    batching nor the shared prefix changes the numbers beyond float rounding.
    """
    requests = build_requests(tok, prompts, choices, max_length)
    out = [[0.0] * len(c) for c in choices]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    forward = partial(_forward_last, model, pad, trim_logits)
    _score(forward, _forwards(requests, shared_prefix), out, batch_size, sort_by_length, progress)
    return out
