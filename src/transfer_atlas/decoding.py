"""Greedy decoding with continuous batching: a finished row's slot is refilled by the next prompt.

`generate()` decodes a batch until its longest answer ends, so a batch whose answers stop
after 3 and 30 tokens runs 30 steps at full width. On a CPU, and on a GPU below the
compute-bound batch size, a decode step costs about the same for 1 or 16 rows (it reads
every weight once), so idle slots are lost time. Here the batch keeps `batch_size` rows
busy: rows that end (eos, stop string, token limit) leave, and once a quarter of the slots
are free the next prompts are prefilled together and join. Each row keeps its own position
ids; rows are left-padded to a common cache length and the padding is masked, so every row
attends to exactly its own tokens, as in a batch-1 `generate()`.

The key/value cache appends into spare capacity instead of concatenating on every step
(`_SlotLayer`); its layout is transformers' `DynamicCache` (one [batch, heads, time, dim]
tensor per layer), so any decoder whose cache is all `DynamicLayer` can use it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

HEADROOM = 64  # cache steps allocated ahead, so appends are in-place writes


class _SlotLayer(DynamicLayer):
    """A DynamicLayer whose keys/values are views into a buffer with spare time steps."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        super().__init__()
        self.is_initialized, self.device = True, keys.device
        self._set(keys, values)

    def _set(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        b, h, t, d = keys.shape
        self._k = keys.new_zeros(b, h, t + HEADROOM, d)
        self._v = values.new_zeros(b, h, t + HEADROOM, values.shape[-1])
        self._k[:, :, :t], self._v[:, :, :t] = keys, values
        self.keys, self.values = self._k[:, :, :t], self._v[:, :, :t]

    def update(self, key_states, value_states, *args, **kwargs):
        n, t = self.keys.shape[-2], key_states.shape[-2]
        if n + t > self._k.shape[-2]:
            self._set(self.keys, self.values)
        self._k[:, :, n : n + t] = key_states
        self._v[:, :, n : n + t] = value_states
        self.keys, self.values = self._k[:, :, : n + t], self._v[:, :, : n + t]
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        n = self.keys.shape[-2]
        self._k, self._v = self._k[indices], self._v[indices]
        self.keys, self.values = self._k[:, :, :n], self._v[:, :, :n]


class Unsupported(Exception):
    """The model's cache is not a DynamicCache of plain DynamicLayers (e.g. sliding windows)."""


def supports_slots(cache) -> bool:
    """True when every layer of a prefill cache is a plain DynamicLayer (no sliding window)."""
    return isinstance(cache, DynamicCache) and all(type(x) is DynamicLayer for x in cache.layers)


def _pad_left(x: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    missing = length - x.shape[dim]
    if missing == 0:
        return x
    pad = [0, 0] * (x.dim() - 1 - dim % x.dim()) + [missing, 0]
    return F.pad(x, pad)


class _Batch:
    """The rows being decoded: cache, attention mask, next position and next input token."""

    def __init__(self):
        self.rows: list[int] = []  # prompt index of each row
        self.cache: DynamicCache | None = None
        self.mask = self.pos = self.last = None

    def __len__(self) -> int:
        return len(self.rows)

    def join(self, rows: list[int], cache, mask, pos, last) -> None:
        """Append prefilled rows; both parts are left-padded to the longer cache."""
        if not self.rows:
            self.rows, self.mask, self.pos, self.last = rows, mask, pos, last
            self.cache = DynamicCache()
            self.cache.layers = [_SlotLayer(x.keys, x.values) for x in cache.layers]
            self.cache.layer_class_to_replicate = None
            return
        t = max(self.mask.shape[1], mask.shape[1])
        self.mask = torch.cat([_pad_left(self.mask, t, 1), _pad_left(mask, t, 1)])
        for mine, new in zip(self.cache.layers, cache.layers):
            keys = torch.cat([_pad_left(mine.keys, t, 2), _pad_left(new.keys, t, 2)])
            values = torch.cat([_pad_left(mine.values, t, 2), _pad_left(new.values, t, 2)])
            mine._set(keys, values)
        self.rows, self.pos, self.last = (
            self.rows + rows,
            torch.cat([self.pos, pos]),
            torch.cat([self.last, last]),
        )

    def keep(self, keep: list[int]) -> None:
        """Drop every row not in `keep` (batch positions), and time steps no remaining row uses."""
        index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.rows = [self.rows[i] for i in keep]
        self.mask, self.pos, self.last = self.mask[index], self.pos[index], self.last[index]
        self.cache.batch_select_indices(index)
        start = int(self.mask.any(0).int().argmax()) if keep else 0
        if start >= HEADROOM // 2:  # compact: drop leading columns that are padding in every row
            self.mask = self.mask[:, start:]
            for layer in self.cache.layers:
                layer._set(layer.keys[:, :, start:], layer.values[:, :, start:])


def left_pad(seqs: Sequence[list[int]], pad_id: int, device) -> tuple[torch.Tensor, ...]:
    """(input_ids, attention_mask, position_ids) of left-padded token lists; each sequence's
    positions start at 0 at its first real token, so padding changes nothing it computes."""
    width = max(len(x) for x in seqs)
    input_ids = torch.tensor([[pad_id] * (width - len(x)) + list(x) for x in seqs], device=device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in seqs], device=device)
    return input_ids, mask, (mask.cumsum(1) - 1).clamp(min=0)


@torch.no_grad()
def _prefill(model, ids: list[list[int]], pad_id: int, device):
    """One forward over left-padded prompts: (cache, mask, next positions, first greedy tokens)."""
    input_ids, mask, position_ids = left_pad(ids, pad_id, device)
    cache = DynamicCache()
    out = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=position_ids,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    pos = mask.sum(1)
    return cache, mask, pos, out.logits[:, -1].argmax(-1)


@torch.no_grad()
def _step(model, batch: _Batch) -> torch.Tensor:
    """Feed every row's last token; returns the next greedy token of each row."""
    ones = torch.ones(len(batch), 1, dtype=batch.mask.dtype, device=batch.mask.device)
    batch.mask = torch.cat([batch.mask, ones], 1)
    out = model(
        input_ids=batch.last[:, None],
        attention_mask=batch.mask,
        position_ids=batch.pos[:, None],
        cache=batch.cache,
        use_cache=True,
    )
    batch.pos = batch.pos + 1
    return out.logits[:, -1].argmax(-1)


def continuous_greedy(
    model,
    prompt_ids: Sequence[list[int]],
    order: Sequence[int],
    max_new_tokens: int,
    pad_id: int,
    is_done: Callable[[int, list[int]], bool],
    batch_size: int,
    progress=None,
) -> list[list[int]]:
    """Greedy token ids for each prompt (up to `is_done`, eos included if it ended the row).

    Prompts enter in `order`; `is_done(prompt index, ids)` is asked after each new token of a
    row, and the row leaves when it says True or `max_new_tokens` is reached.
    """
    device = next(model.parameters()).device
    queue, batch = deque(order), _Batch()
    out: list[list[int]] = [[] for _ in prompt_ids]
    finished = 0
    while queue or batch:
        free = batch_size - len(batch)
        if queue and (not batch or free >= max(1, batch_size // 4)):
            rows = [queue.popleft() for _ in range(min(free, len(queue)))]
            cache, mask, pos, first = _prefill(model, [prompt_ids[i] for i in rows], pad_id, device)
            if not supports_slots(cache):
                raise Unsupported(type(cache).__name__)
            batch.join(rows, cache, mask, pos, first)
            new = list(range(len(batch) - len(rows), len(batch)))
            tokens = first.tolist()
        else:
            new, tokens = list(range(len(batch))), _step(model, batch).tolist()
            batch.last = torch.tensor(tokens, device=device)
        keep = [i for i in range(len(batch)) if i not in new]
        for i, token in zip(new, tokens):
            ids = out[batch.rows[i]]
            ids.append(token)
            if len(ids) < max_new_tokens and not is_done(batch.rows[i], ids):
                keep.append(i)
        if len(keep) < len(batch):
            before, finished = finished, finished + len(batch) - len(keep)
            batch.keep(sorted(keep))
            if progress and (finished // batch_size > before // batch_size or finished == len(out)):
                progress(finished, len(out))
    return out
