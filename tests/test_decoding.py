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


def _live_bytes() -> int:
    import gc

    seen = {}
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and obj.device.type == "cpu":
            st = obj.untyped_storage()
            seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


def test_cache_rebuild_peaks_at_about_one_cache_plus_a_layer(tiny_model, monkeypatch):
    """Measured on a 8-layer tiny model: while live rows and newly prefilled rows are merged,
    the live tensor bytes rise above the start by at most about one layer of the new cache
    (before: the whole new cache while the old and prefill caches were still alive)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_model[1]
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=64,
        num_hidden_layers=8,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    model = LlamaForCausalLM(cfg).eval()
    ids = [tok(p)["input_ids"] for p in PROMPTS]
    batch = decoding._Batch()
    batch.rebuild((list(range(6)), *decoding._prefill(model, ids[:6], tok.pad_token_id, "cpu")))
    batch.alive[1] = batch.alive[3] = False
    new = (list(range(6, 10)), *decoding._prefill(model, ids[6:10], tok.pad_token_id, "cpu"))
    start, peak = _live_bytes(), [0]
    real = decoding._right_aligned

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        peak[0] = max(peak[0], _live_bytes())
        return out

    monkeypatch.setattr(decoding, "_right_aligned", spy)
    batch.rebuild(new)
    layer = batch.cache.layers[0]
    layer_bytes = 2 * layer._k.untyped_storage().nbytes()
    cache_bytes = layer_bytes * len(batch.cache.layers)
    assert cache_bytes >= 6 * layer_bytes  # the rebuilt cache is large next to one layer
    assert peak[0] - start <= 1.5 * layer_bytes


def test_kv_budget_limits_the_rows_decoding_at_once(sharp_model):
    """The live rows' reserved cache (prompt + max_new_tokens each) never exceeds the budget,
    so fewer rows than batch_size decode at once; every answer is still its batch-1 answer."""
    model, tok = sharp_model
    ids = [tok(p)["input_ids"] for p in PROMPTS[:6]]
    widths, reserved = [], []
    real = decoding._step

    def spy(model_, batch):
        widths.append(batch.live())
        reserved.append(sum(len(ids[r]) + 8 for r, a in zip(batch.rows, batch.alive) if a))
        return real(model_, batch)

    budget = max(len(x) for x in ids) + 8 + 24  # the long review and one or two short prompts
    decoding._step, order = spy, list(range(6))
    try:
        out = continuous_greedy(model, ids, order, 8, tok.pad_token_id, lambda *_: False, 6, kv_budget=budget)
    finally:
        decoding._step = real
    assert max(reserved) <= budget and max(widths) < 6
    assert out == [_reference(model, tok, p, 8) for p in PROMPTS[:6]]


def test_out_of_memory_halves_the_batch_and_finishes_the_rest(sharp_model, monkeypatch):
    """A forward over more than 2 rows raises out-of-memory: generation backs off to batch 2
    and still returns every prompt's answer (rows finished before the error are kept)."""
    model, tok = sharp_model
    want = greedy_generate(model, tok, PROMPTS, 6, batch_size=2)
    real = model.forward
    calls = {"oom": 0}

    def forward(*args, **kwargs):
        if kwargs["input_ids"].shape[0] > 2:
            calls["oom"] += 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    assert greedy_generate(model, tok, PROMPTS, 6, batch_size=8) == want
    assert calls["oom"] >= 2  # batch 8 and batch 4 failed, batch 2 finished
