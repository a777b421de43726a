"""Fidelity of scoring: harness-equal GSM8K extraction, exact label log-likelihoods, stable batching."""

import dataclasses
import inspect
import re

import pytest
import torch

from transfer_atlas import data, evaluate, scoring
from transfer_atlas.generation import greedy_generate
from transfer_atlas.tasks import load_card
from transfer_atlas.tasks.textmatch import INVALID, parse_label, rouge_l

# --- lm-evaluation-harness gsm8k (v3.0), restated from lm_eval/tasks/gsm8k/gsm8k.yaml and
# lm_eval/filters/extraction.py::RegexFilter + exact_match(regexes_to_ignore, ignore_case) ---
H_STRICT = r"#### (\-?[0-9\.\,]+)"
H_FLEXIBLE = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
H_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def harness_filter(resp: str, pattern: str, group_select: int) -> str:
    match = re.compile(pattern).findall(resp)
    if not match:
        return "[invalid]"
    match = match[group_select]
    if isinstance(match, tuple):
        match = [m for m in match if m][0]
    return match.strip()


def harness_exact_match(pred: str, ref: str) -> bool:
    for s in H_IGNORE:
        pred, ref = re.sub(s, "", pred), re.sub(s, "", ref)
    return pred.lower() == ref.lower()


# (model output, strict extraction, flexible extraction) -- hand-checked known answers
TRICKY = [
    ("#### 42", "42", "42"),
    ("So 1,000 + 234 = 1,234.\n#### 1,234", "1,234", "1,234"),
    ("Total is $1,000.\n#### $1,000", INVALID, "$1,000"),
    ("x = 3.50\n#### 3.50", "3.50", "3.50"),
    ("#### 12\n#### 13", "12", "13"),
    ("I don't know.", INVALID, INVALID),
    ("The change is -7 degrees", INVALID, "-7"),
    ("She has 12.", INVALID, "12."),
    ("#### -1,250.5", "-1,250.5", "-1,250.5"),
    ("Answer: 5 apples and 10 pears.", INVALID, "10"),
    ("It costs $5", INVALID, "$5"),
    ("####42", INVALID, "42"),
    ("#### 18 dollars\nThe answer is 20", "18", "20"),
    ("Step 1: 3 * 4 = 12\nStep 2: 12 - 5 = 7\n#### 7.", "7.", "7."),
]
# (output, gold solution as in GSM8K, harness verdict for strict, for flexible)
VERDICTS = [
    ("#### 1,234", "... #### 1234", True, True),
    ("Total is $1,000.\n#### $1,000", "#### 1000", False, True),
    ("x = 3.50\n#### 3.50", "#### 3.5", False, False),
    ("#### 12\n#### 13", "#### 13", False, True),
    ("She has 12.", "#### 12", False, True),
    ("#### -5", "#### -5", True, True),
    ("I don't know.", "#### 0", False, False),
    ("#### 7.", "#### 7", True, True),
]


@pytest.mark.parametrize("text, strict, flexible", TRICKY)
def test_extraction_matches_known_answers_and_harness(text, strict, flexible):
    assert scoring.extract_strict(text) == strict == harness_filter(text, H_STRICT, 0)
    assert scoring.extract_flexible(text) == flexible == harness_filter(text, H_FLEXIBLE, -1)


@pytest.mark.parametrize("text, gold, ok_strict, ok_flexible", VERDICTS)
def test_match_verdicts_equal_harness(text, gold, ok_strict, ok_flexible):
    number = re.search(r"#### (.+)$", gold).group(1)  # how the gsm8k card derives the gold
    for extract, expected in ((scoring.extract_strict, ok_strict), (scoring.extract_flexible, ok_flexible)):
        assert harness_exact_match(extract(text), gold) is expected
        assert scoring.number_match(extract(text), number) is expected


def test_gold_answers_of_real_gsm8k_score_as_in_the_harness(shared_datasets):
    """Every real GSM8K test solution, used as the model output, is judged as the harness does."""
    card = load_card("gsm8k")
    rows = data.raw_splits({"name": "g", "task": "gsm8k", "path": str(shared_datasets / "gsm8k")}, card)[
        "eval"
    ]
    assert len(rows) == 1319
    for row in rows:
        for extract, pattern, group in (
            (scoring.extract_strict, H_STRICT, 0),
            (scoring.extract_flexible, H_FLEXIBLE, -1),
        ):
            ours, theirs = extract(row["solution"]), harness_filter(row["solution"], pattern, group)
            assert ours == theirs
            assert (
                scoring.number_match(ours, row["answer"])
                == harness_exact_match(theirs, row["solution"])
                is True
            )
        wrong = str(int(row["answer"].replace(",", "")) + 1)
        assert not scoring.number_match(wrong, row["answer"]) and not harness_exact_match(
            wrong, row["solution"]
        )


# --- label log-likelihood: equal to a per-example reference computation ---------------------


@torch.no_grad()
def reference_logprob(model, tok, prompt: str, choice: str) -> float:
    """One unpadded forward over prompt + choice; sum of log p(choice tokens)."""
    context = tok(prompt)["input_ids"]
    whole = tok(prompt + choice)["input_ids"]
    assert whole[: len(context)] == context
    logits = model(input_ids=torch.tensor([whole])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return float(sum(logp[pos - 1, whole[pos]] for pos in range(len(context), len(whole))))


@pytest.fixture(scope="module")
def real_prompts():
    """Prompts of three real tasks (short Flipkart, long IMDB, GSM8K) with their label choices."""
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    out = []
    for task, n in (("flipkart", 4), ("imdb", 3), ("uci_sentences", 3)):
        spec = {
            "name": task,
            "task": task,
            "path": str(SHARED_DATA / task),
            "n_train": 4,
            "n_eval": n,
            "max_chars": {"text": 800},
        }
        card = load_card(task)
        out += data.to_records(data.raw_splits(spec, card)["eval"], card, task, "eval")
    for rec in out[:3]:  # multi-token continuations too (the full-sequence scoring path)
        rec["choices"] = rec["choices"] + [" not sure at all", " 1,234"]
    return [r["prompt"] for r in out], [r["choices"] for r in out]


def _kwargs_variants():
    has_shared = "shared_prefix" in inspect.signature(scoring.choice_logprobs).parameters
    return (
        [{"shared_prefix": s, "trim_logits": t} for s in (True, False) for t in (True, False)]
        if has_shared
        else [{}]
    )


@pytest.fixture(scope="module")
def reference(sharp_model, real_prompts):
    model, tok = sharp_model
    prompts, choices = real_prompts
    return [[reference_logprob(model, tok, p, c) for c in cs] for p, cs in zip(prompts, choices, strict=True)]


@pytest.mark.parametrize("batch_size, sort", [(1, True), (3, False), (8, True), (64, True)])
def test_choice_logprobs_equal_reference(sharp_model, real_prompts, reference, batch_size, sort):
    """Against one unpadded forward per (prompt, choice), on a model whose answers depend on
    positions and context (so padding or position-id mistakes show)."""
    model, tok = sharp_model
    prompts, choices = real_prompts
    ref = reference
    for kwargs in _kwargs_variants():
        got = scoring.choice_logprobs(
            model, tok, prompts, choices, batch_size=batch_size, sort_by_length=sort, **kwargs
        )
        for r_row, g_row in zip(ref, got, strict=True):
            assert g_row == pytest.approx(r_row, abs=1e-5)


def test_forwards_share_a_choice_whose_input_is_a_prefix_of_another():
    """(example, choice, token ids, n continuation tokens) -> forward passes: choice 0's input
    [1, 2, 3] carries choice 1 and 2 (input [1, 2], single tokens 3 and 9) as SIB-200's
    " science/technology" carries " sports"; example 1 has its own forward."""
    requests = [(0, 1, [1, 2, 3], 1), (0, 0, [1, 2, 3, 4], 2), (0, 2, [1, 2, 9], 1), (1, 0, [5, 6], 1)]
    assert scoring._forwards(requests, shared_prefix=True) == [
        ([1, 2, 3], [(0, 0, 1, [3, 4]), (0, 1, 1, [3]), (0, 2, 1, [9])]),
        ([5], [(1, 0, 0, [6])]),
    ]
    assert len(scoring._forwards(requests, shared_prefix=False)) == 4
    # a continuation that differs inside the carrier's input is not a prefix: its own forward
    assert len(scoring._forwards([(0, 0, [1, 2, 3, 4], 2), (0, 1, [1, 7, 8], 2)], True)) == 2


def test_batch_size_does_not_change_predictions(tiny_model, real_prompts):
    model, tok = tiny_model
    prompts, choices = real_prompts
    runs = [scoring.choice_logprobs(model, tok, prompts, choices, batch_size=b) for b in (1, 8, 32)]
    argmax = [[max(range(len(row)), key=row.__getitem__) for row in run] for run in runs]
    assert argmax[0] == argmax[1] == argmax[2]
    diff = max(
        abs(a - b)
        for run in runs[1:]
        for ra, rb in zip(runs[0], run, strict=True)
        for a, b in zip(ra, rb, strict=True)
    )
    assert diff < 1e-5


def test_greedy_generation_is_stable_across_batch_sizes(tiny_model, shared_datasets):
    """Per-example greedy outputs on a real GSM8K slice do not depend on the batch size."""
    model, tok = tiny_model
    card = load_card("gsm8k")
    spec = {
        "name": "g",
        "task": "gsm8k",
        "path": str(shared_datasets / "gsm8k"),
        "n_train": 4,
        "n_eval": 32,
        "seed": 5,
    }
    prompts = [r["prompt"] for r in data.to_records(data.raw_splits(spec, card)["eval"], card, "g", "eval")]
    # no stop strings: the whole 24-token continuation is compared (and generate() skips the
    # per-call stop-string tables, which dominate the cost at batch size 1)
    outs = {b: greedy_generate(model, tok, prompts, 24, (), batch_size=b) for b in (1, 8, 32)}
    differing = [i for i in range(len(prompts)) if not outs[1][i] == outs[8][i] == outs[32][i]]
    assert differing == [], f"examples whose greedy output depends on the batch size: {differing}"


# --- free-text scoring --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (" positive", "positive"),
        ("Negative.", "negative"),
        ("The sentiment is neutral, not positive", "neutral"),
        ("non-toxic", "non-toxic"),
        ("toxic, not non-toxic", "toxic"),
        ("positively great", INVALID),
        ("", INVALID),
    ],
)
def test_parse_label(text, expected):
    labels = ["negative", "neutral", "positive"] if "toxic" not in text else ["non-toxic", "toxic"]
    assert parse_label(text, labels) == expected


def test_rouge_l_known_values():
    assert rouge_l("a b c d", "a c d e") == pytest.approx(0.75)  # LCS a c d: P = R = 3/4
    assert rouge_l("def f(x): return x", "def f(x): return x") == 1.0
    assert rouge_l("x", "") == 0.0 and rouge_l("a b", "c d") == 0.0
    # rouge-score's tokenizer: lower case, letters and digits only (punctuation dropped)
    assert rouge_l("Hello, World!", "hello world") == 1.0


def test_also_generate_reports_loglik_and_generated_accuracy(tiny_model, real_prompts):
    model, tok = tiny_model
    card = load_card("flipkart")
    prompts, _ = real_prompts
    records = [
        {"id": str(i), "prompt": p, "label": "positive", "choices": [" negative", " neutral", " positive"]}
        for i, p in enumerate(prompts[:6])
    ]
    cfg = {
        "batch_size": 4,
        "sort_by_length": True,
        "continuous_batching": True,
        "trim_logits": True,
        "shared_prefix": True,
        "bootstrap": 10,
    }
    rows = evaluate.predict_choices(model, tok, records, card, cfg)
    assert all(r["pred_generated"] in [*card.labels, INVALID] and "generated" in r for r in rows)
    summary = evaluate.score_summary(rows, card, cfg, seed=0)
    assert set(summary["metrics"]) == {"acc", "acc_norm", "acc_bytes", "acc_generated"}
    assert summary["metrics"]["acc"] == summary["value"] == 100 * sum(r["correct"] for r in rows) / 6
    assert summary["metrics"]["acc_generated"] == 100 * sum(r["correct_generated"] for r in rows) / 6
    assert sum(summary["pred_distribution_generated"].values()) == 6
    # the card may make the generated label primary: output/correct follow it, acc stays reported
    primary = dataclasses.replace(card, metric="acc_generated")
    rows2 = evaluate.predict_choices(model, tok, records, primary, cfg)
    assert [r["output"] for r in rows2] == [r["pred_generated"] for r in rows]
    assert [r["pred_loglik"] for r in rows2] == [r["output"] for r in rows]
    s2 = evaluate.score_summary(rows2, primary, cfg, seed=0)
    assert (
        s2["value"] == summary["metrics"]["acc_generated"]
        and s2["metrics"]["acc"] == summary["metrics"]["acc"]
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_logprobs_without_a_full_vocabulary_log_softmax(dtype):
    """logit - row-wise float32 logsumexp gives log_softmax's numbers; the logits stay in the
    model's dtype and only [batch, keep] float32 sums are kept."""
    from transfer_atlas.scoring import _LogProbs

    torch.manual_seed(0)
    logits = (torch.randn(3, 4, 1000) * 5).to(dtype)
    lp = _LogProbs(logits)
    want = torch.log_softmax(logits.float(), -1)
    tokens = torch.tensor([7, 999, 0])
    torch.testing.assert_close(lp.at(1, 1, tokens), want[1, [1, 2, 3], tokens], rtol=0, atol=1e-5)
    assert lp.logits.dtype == dtype and lp.lse.shape == (3, 4) and lp.lse.dtype == torch.float32


def test_logprobs_are_exact_over_a_long_continuation():
    """A 60-token continuation over a 49,152-token vocabulary (SmolLM2's): the summed float32
    log-probabilities stay within 2e-5 of float64 ones. (torch's float32 `log_softmax` on a
    CPU is about 7e-4 off here: the gap first seen against the harness; see
    tests/test_harness_parity.py.)"""
    from transfer_atlas.scoring import _LogProbs

    torch.manual_seed(0)
    logits = torch.randn(1, 60, 49152, dtype=torch.float64) * 3
    logits[..., :5] += 15  # a peaked distribution, like a trained model's
    tokens = torch.randint(0, 5, (60,))
    exact = torch.log_softmax(logits[0], -1)[torch.arange(60), tokens].sum()
    got = _LogProbs(logits.float()).at(0, 0, tokens).sum()
    assert got.dtype == torch.float32
    assert abs(float(got) - float(exact)) < 2e-5


def test_scoring_halves_its_batch_on_out_of_memory(tiny_model, monkeypatch):
    """A forward over more than 2 sequences raises out-of-memory: scoring backs off and gives
    the same log-likelihoods as batch 2."""
    from transfer_atlas.scoring import choice_logprobs

    model, tok = tiny_model
    prompts = [f"Review {i}: " + "fine " * i + "\nAnswer:" for i in range(7)]
    choices = [[" positive", " negative and more"]] * 7
    want = choice_logprobs(model, tok, prompts, choices, batch_size=2)
    real = model.forward
    fails = []

    def forward(*args, **kwargs):
        if kwargs["input_ids"].shape[0] > 2:
            fails.append(kwargs["input_ids"].shape[0])
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    got = choice_logprobs(model, tok, prompts, choices, batch_size=8)
    assert fails and max(fails) > 2
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-4)


def test_scoring_builds_no_kv_cache(tiny_model):
    """A scoring forward keeps no keys/values: in eval the model's use_cache defaults to True,
    which held a batch x prompt KV cache during every scoring forward (perf/memory_check.py:
    SmolLM2 at 8 x 256, 152 MB allocated instead of the estimated 66 MB)."""
    from transfer_atlas.scoring import choice_logprobs

    model, tok = tiny_model
    assert model.config.use_cache
    caches = []
    handle = model.register_forward_hook(lambda m, i, out: caches.append(out.past_key_values))
    try:
        choice_logprobs(model, tok, ["Review: fine\nAnswer:"] * 2, [[" yes", " no way"]] * 2)
    finally:
        handle.remove()
    assert caches and all(c is None for c in caches)
