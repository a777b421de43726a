"""Continuous batching gives each prompt its batch-1 greedy answer, however rows come and go."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicSlidingWindowLayer

from transfer_atlas import decoding
from transfer_atlas.decoding import continuous_greedy, supports_slots
from transfer_atlas.generation import greedy_generate

PROMPTS = [
    "Question: What is 3 + 4?\nAnswer:",
    "Review: " + "the kettle is slow, loud and it leaks; " * 8 + "\nAnswer:",  # long: forces compaction
    "Hi",
    "Question: A farmer has 12 cows and buys 7 more. How many cows?\nAnswer:",
    "Translate to French: good morning",
    "x",
    "Premise: the glass fell. What happened as a result?",
    "Review: great\nAnswer:",
    "Sentence: the food was cold\nLabel:",
    "1 2 3 4 5",
]


def _reference(model, tok, prompt: str, n: int) -> list[int]:
    """Batch-1 `generate()` greedy ids, no eos stop (the tiny random model rarely emits it)."""
    enc = tok(prompt, return_tensors="pt")
    out = model.generate(
        **enc, max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id
    )
    return out[0, enc["input_ids"].shape[1] :].tolist()


@pytest.mark.parametrize("batch_size", [1, 3, 4, 16])
def test_rows_ending_at_different_steps_get_their_batch1_answers(sharp_model, batch_size):
    """Row i ends after 2 + 3*i tokens, so slots free up at different steps and are refilled."""
    model, tok = sharp_model
    ids = [tok(p)["input_ids"] for p in PROMPTS]
    want = [2 + 3 * i for i in range(len(PROMPTS))]
    refs = [_reference(model, tok, p, want[i]) for i, p in enumerate(PROMPTS)]
    assert len({tuple(r[:2]) for r in refs}) > 1  # the rows really differ
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = continuous_greedy(
        model, ids, order, 64, tok.pad_token_id, lambda i, x: len(x) >= want[i], batch_size
    )
    assert out == refs


def test_answers_longer_than_the_cache_headroom(sharp_model):
    """The slot cache regrows past HEADROOM steps and stays exact."""
    model, tok = sharp_model
    n = decoding.HEADROOM + 20
    ids = [tok(p)["input_ids"] for p in PROMPTS[:3]]
    out = continuous_greedy(model, ids, [0, 1, 2], n, tok.pad_token_id, lambda *_: False, 2)
    assert out == [_reference(model, tok, p, n) for p in PROMPTS[:3]]


@pytest.mark.parametrize("stop", [(), ("\n", "Question")])
def test_continuous_equals_generate_batches(sharp_model, stop):
    model, tok = sharp_model
    kw = dict(max_new_tokens=12, stop=stop, batch_size=3)
    cont = greedy_generate(model, tok, PROMPTS, continuous=True, **kw)
    batches = greedy_generate(model, tok, PROMPTS, continuous=False, **kw)
    assert cont == batches
    assert all(0 <= n <= 12 for _, n in cont)


def test_stop_string_ends_a_row_early(sharp_model):
    """A stop string taken from the model's own answer ends that row at the string."""
    model, tok = sharp_model
    full = greedy_generate(model, tok, PROMPTS[:1], 12, batch_size=1)[0][0]
    stop = full[len(full) // 2 :][:3]
    assert stop.strip()
    (text, n_tok), *_ = greedy_generate(model, tok, PROMPTS[:1] * 2, 12, [stop], batch_size=2)
    assert text == full[: full.find(stop)]
    assert n_tok < 12


def test_progress_reaches_the_total(tiny_model):
    model, tok = tiny_model
    seen = []
    greedy_generate(model, tok, PROMPTS, 3, batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(PROMPTS), len(PROMPTS))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_empty_inputs(tiny_model):
    model, tok = tiny_model
    assert greedy_generate(model, tok, [], 5) == []
    assert greedy_generate(model, tok, ["a", "b"], 0) == [("", 0), ("", 0)]


def test_sliding_window_caches_fall_back_to_generate(tiny_model, monkeypatch):
    plain = DynamicCache()
    plain.update(torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 2, 4), 0)
    assert supports_slots(plain)
    sliding = DynamicCache()
    sliding.layers = [DynamicSlidingWindowLayer(sliding_window=4)]
    assert not supports_slots(sliding)
    model, tok = tiny_model
    ids = [tok("a b")["input_ids"]]
    monkeypatch.setattr(decoding, "supports_slots", lambda cache: False)
    with pytest.raises(decoding.Unsupported):
        continuous_greedy(model, ids, [0], 3, tok.pad_token_id, lambda *_: False, 2)
    expect = greedy_generate(model, tok, ["a b"], 3, continuous=False)
    assert greedy_generate(model, tok, ["a b"], 3) == expect


def test_eos_ids_join_tokenizer_and_generation_config(sharp_model):
    from transfer_atlas.models import eos_ids

    model, tok = sharp_model
    saved = model.generation_config.eos_token_id
    try:
        model.generation_config.eos_token_id = [7, tok.eos_token_id, 9]
        assert eos_ids(tok, model) == [tok.eos_token_id, 7, 9]
        model.generation_config.eos_token_id = None
        assert eos_ids(tok, model) == [tok.eos_token_id]
    finally:
        model.generation_config.eos_token_id = saved


@pytest.mark.parametrize("continuous", [True, False])
def test_any_generation_config_eos_ends_the_answer(sharp_model, continuous):
    """A row stops at the first token of the generation config's eos list (Llama-3 Instruct
    lists three), not only at the tokenizer's eos: its text is what came before."""
    model, tok = sharp_model
    prompts = PROMPTS[:4]
    refs = [_reference(model, tok, p, 12) for p in prompts]
    stop_token = refs[0][5]  # a token the first answer emits at step 6
    assert stop_token != tok.eos_token_id
    saved = model.generation_config.eos_token_id
    try:
        model.generation_config.eos_token_id = [tok.eos_token_id, stop_token]
        got = greedy_generate(model, tok, prompts, 12, batch_size=3, continuous=continuous)
    finally:
        model.generation_config.eos_token_id = saved
    for ref, (text, n_tok) in zip(refs, got):
        cut = ref.index(stop_token) if stop_token in ref else len(ref)
        assert n_tok == cut and text == tok.decode(ref[:cut], skip_special_tokens=True)
    assert got[0][1] == refs[0].index(stop_token) <= 5
