"""Trait-suite generators: deterministic, and each carries its planted trait."""

import re
from collections import Counter

import pytest

from transfer_atlas.tasks import TaskError, available_tasks, load_card
from transfer_atlas.tasks import synthetic as syn
from transfer_atlas.tasks.synthetic import GENERATORS

N = 2000


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_deterministic_by_seed(name):
    gen = GENERATORS[name]
    assert gen(50, 7) == gen(50, 7)
    assert gen(50, 7) != gen(50, 8)


def test_imbalanced_sentiment_is_80_10_10():
    counts = Counter(r["label"] for r in GENERATORS["sentiment3_imbalanced"](N, 0))
    assert counts["positive"] / N == pytest.approx(0.8, abs=0.03)
    assert counts["neutral"] / N == pytest.approx(0.1, abs=0.02)
    assert counts["negative"] / N == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("name", ["sentiment2", "paraphrase"])
def test_binary_tasks_are_balanced(name):
    counts = Counter(r["label"] for r in GENERATORS[name](1000, 3))
    assert len(counts) == 2 and set(counts.values()) == {500}


def test_arith_small_has_long_solutions_with_correct_answers():
    rows = GENERATORS["arith_small"](200, 1)
    for row in rows:
        assert row["solution"].endswith(f"#### {row['answer']}")
        assert all(int(tok) <= 40 for tok in row["question"].split() if tok.isdigit())
    mean_words = sum(len(r["solution"].split()) for r in rows) / len(rows)
    assert mean_words > 25


def test_arith_large_answers_are_right_and_short():
    for row in GENERATORS["arith_large"](200, 2):
        a, op, b = row["question"].removeprefix("What is ").rstrip("?").split()
        expected = int(a) + int(b) if op == "+" else int(a) - int(b)
        assert int(row["answer"]) == expected
        assert len(row["answer"].split()) == 1 and int(a) >= 10_000


def test_every_card_loads_and_unknown_task_is_named():
    for task in available_tasks():
        card = load_card(task)
        assert card.type in {"generate_number", "generate_text", "classify", "multiple_choice"}
    with pytest.raises(TaskError, match="unknown task 'nope'"):
        load_card("nope")


def test_sentiment_labels_match_card():
    card = load_card("sentiment3_imbalanced")
    labels = {r["label"] for r in GENERATORS["sentiment3_imbalanced"](300, 1)}
    assert labels == set(card.labels)


def test_prior_probe_is_balanced_prefix_stable_and_matches_the_card():
    gen = GENERATORS["sentiment3_probe"]
    rows = gen(300, 6)
    assert Counter(r["label"] for r in rows) == {"negative": 100, "neutral": 100, "positive": 100}
    assert gen(30, 6) == rows[:30]
    card, trained = load_card("sentiment3_probe"), load_card("sentiment3_imbalanced")
    assert card.labels == trained.labels and card.template == trained.template


def test_prior_probe_shares_no_cue_word_with_the_trained_sentiment_vocabularies():
    cues = [*syn.POSITIVE, *syn.NEGATIVE, *syn.NEUTRAL]
    cue_words = {w for phrase in cues for w in phrase.split()}
    probe_words = {w for phrase in sum(syn.PROBE_WORDS.values(), []) for w in phrase.split()}
    assert probe_words and not probe_words & cue_words
    assert not set(syn.PROBE_PRODUCTS) & set(syn.PRODUCTS)
    assert not set(syn.PROBE_TAILS) & {*syn.POS_TAIL, *syn.NEG_TAIL, *syn.NEU_TAIL}
    for row in GENERATORS["sentiment3_probe"](60, 1):
        cue = row["text"].split(" is ", 1)[1].split(".")[0]
        assert cue in syn.PROBE_WORDS[row["label"]]


def test_length_probe_asks_the_arith_large_questions_with_room_to_answer():
    open_card, short = load_card("arith_large_open"), load_card("arith_large")
    assert open_card.generator == short.generator and open_card.template == short.template
    assert "\n" not in open_card.stop and open_card.max_new_tokens >= 96 > short.max_new_tokens


def test_large_word_problems_are_arith_small_with_large_numbers():
    wording = re.compile(r"(\w+) has \d+ (\w+)\. \1 gets \d+ more \2 and then gives \d+ \2 to a friend\.")
    large = GENERATORS["arith_large_words"](50, 4)
    assert all(wording.match(r["question"]) for r in [*GENERATORS["arith_small"](50, 4), *large])
    for row in large:
        numbers = [int(t) for t in row["question"].split() if t.isdigit()]
        assert min(numbers[:2]) >= 10_000 and row["solution"].endswith(f"#### {row['answer']}")
        assert int(row["answer"]) == numbers[0] + numbers[1] - numbers[2]
    card = load_card("arith_large_words")
    assert card.max_new_tokens == 96 and "\n" not in card.stop
