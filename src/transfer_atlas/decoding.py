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
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

HEADROOM = 64  # cache steps allocated ahead, so appends are in-place writes


def _right_aligned(parts: list[torch.Tensor], width: int, headroom: int) -> torch.Tensor:
    """Stack [rows, ..., time(dim 2 or last of a 2-d mask), ...] parts along rows in a zero
    buffer `width + headroom` steps long, each part's steps ending at step `width`."""
    dim = 2 if parts[0].dim() == 4 else 1
    shape = list(parts[0].shape)
    shape[0], shape[dim] = sum(p.shape[0] for p in parts), width + headroom
    out = parts[0].new_zeros(shape)
    row = 0
    for part in parts:
        n, t = part.shape[0], part.shape[dim]
        out[row : row + n].narrow(dim, width - t, t).copy_(part)
        row += n
    return out


class _SlotLayer(DynamicLayer):
    """A DynamicLayer whose keys/values are views into a buffer with spare time steps."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int):
        super().__init__()
        self.is_initialized, self.device = True, keys.device
        self._k, self._v = keys, values
        self.keys, self.values = keys[:, :, :length], values[:, :, :length]

    def update(self, key_states, value_states, *args, **kwargs):
        n, t = self.keys.shape[-2], key_states.shape[-2]
        if n + t > self._k.shape[-2]:
            self._k = _right_aligned([self.keys], n, HEADROOM)
            self._v = _right_aligned([self.values], n, HEADROOM)
        self._k[:, :, n : n + t] = key_states
        self._v[:, :, n : n + t] = value_states
        self.keys, self.values = self._k[:, :, : n + t], self._v[:, :, : n + t]
        return self.keys, self.values


class Unsupported(Exception):
    """The model's cache is not a DynamicCache of plain DynamicLayers (e.g. sliding windows)."""


def supports_slots(cache) -> bool:
    """True when every layer of a prefill cache is a plain DynamicLayer (no sliding window)."""
    return isinstance(cache, DynamicCache) and all(type(x) is DynamicLayer for x in cache.layers)


class _Batch:
    """The rows being decoded: cache, attention mask, next position and next input token.

    A row that ends stays in the batch as a dead slot (its tokens are ignored) until the next
    rebuild, which drops dead rows and adds new ones in one copy of the cache: copying the
    cache whenever a row ends would cost about a decode step each time.
    """

    def __init__(self):
        self.rows: list[int] = []  # prompt index of each row
        self.alive: list[bool] = []
        self.cache: DynamicCache | None = None
        self.mask = self.pos = self.last = None

    def __len__(self) -> int:
        return len(self.rows)

    def live(self) -> int:
        return sum(self.alive)

    def rebuild(self, new=None) -> None:
        """Keep the live rows, append the prefilled `new` = (rows, cache, mask, pos, first
        tokens), right-align every row's time steps and drop steps that are padding in all.

        Layer by layer: once a layer's new buffer is written, that layer of the old cache and
        of the prefill cache is released, so the peak is about one cache plus one layer (not
        old + prefill + new caches at once)."""
        keep = [i for i, a in enumerate(self.alive) if a]
        parts_mask, sources, rows, pos, last = [], [], [], [], []
        if keep:
            index = torch.tensor(keep, device=self.mask.device)
            mask = self.mask[index]
            start = int(mask.any(0).int().argmax())
            parts_mask.append(mask[:, start:])
            sources.append((self.cache.layers, index, start))
            rows, pos, last = [self.rows[i] for i in keep], [self.pos[index]], [self.last[index]]
        if new:
            new_rows, cache, mask, new_pos, first = new
            parts_mask.append(mask)
            sources.append((cache.layers, None, 0))
            rows, pos, last = rows + new_rows, pos + [new_pos], last + [first]
        width = max(m.shape[1] for m in parts_mask)
        self.mask = _right_aligned(parts_mask, width, 0)
        n_layers = len(sources[0][0])
        layers = []
        for li in range(n_layers):
            keys, values = [], []
            for src, index, start in sources:
                x = src[li]
                keys.append(x.keys[:, :, start:] if index is None else x.keys[index, :, start:])
                values.append(x.values[:, :, start:] if index is None else x.values[index, :, start:])
                src[li] = None  # this layer of the old / prefill cache is no longer needed
            del x
            layers.append(
                _SlotLayer(
                    _right_aligned(keys, width, HEADROOM), _right_aligned(values, width, HEADROOM), width
                )
            )
            del keys, values
        self.cache = DynamicCache()
        self.cache.layers, self.cache.layer_class_to_replicate = layers, None
        self.rows, self.alive = rows, [True] * len(rows)
        self.pos, self.last = torch.cat(pos), torch.cat(last)


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
    kv_budget: int | None = None,
    on_finish: Callable[[int, list[int]], None] | None = None,
) -> list[list[int]]:
    """Greedy token ids for each prompt (up to `is_done`, eos included if it ended the row).

    Prompts enter in `order`; `is_done(prompt index, ids)` is asked after each new token of a
    row, and the row leaves when it says True or `max_new_tokens` is reached. New prompts
    join once a quarter of the slots are free; with no prompts left, dead rows are dropped
    once they are half the batch. `kv_budget`: a prompt is admitted only while the rows'
    reserved cache (prompt + max_new_tokens tokens each) stays within this many tokens (one
    row is always admitted into an empty batch). `on_finish(prompt index, ids)` is called
    when a row ends (so a caller keeps finished answers if a later step fails).
    """
    device = next(model.parameters()).device
    queue, batch = deque(order), _Batch()
    out: list[list[int]] = [[] for _ in prompt_ids]
    finished, reserved = 0, 0

    def cost(i: int) -> int:
        return len(prompt_ids[i]) + max_new_tokens

    while queue or batch.live():
        free, rows = batch_size - batch.live(), []
        if queue and (not batch.live() or free >= max(1, batch_size // 4)):
            while queue and len(rows) < free:
                if kv_budget and reserved + cost(queue[0]) > kv_budget and (rows or batch.live()):
                    break
                rows.append(queue.popleft())
                reserved += cost(rows[-1])
        if rows:
            cache, mask, pos, first = _prefill(model, [prompt_ids[i] for i in rows], pad_id, device)
            if not supports_slots(cache):
                raise Unsupported(type(cache).__name__)
            batch.rebuild((rows, cache, mask, pos, first))
            new, tokens = range(len(batch) - len(rows), len(batch)), first.tolist()
        else:
            if not queue and 2 * batch.live() <= len(batch) and len(batch) > 1:
                batch.rebuild()
            batch.last = _step(model, batch)
            tokens = batch.last.tolist()
            new = [i for i in range(len(batch)) if batch.alive[i]]
            tokens = [tokens[i] for i in new]
        ended = 0
        for i, token in zip(new, tokens):
            ids = out[batch.rows[i]]
            ids.append(token)
            if len(ids) >= max_new_tokens or is_done(batch.rows[i], ids):
                batch.alive[i], ended = False, ended + 1
                reserved -= cost(batch.rows[i])
                if on_finish:
                    on_finish(batch.rows[i], ids)
        if ended:
            before, finished = finished, finished + ended
            if progress and (finished // batch_size > before // batch_size or finished == len(out)):
                progress(finished, len(out))
    return out
