"""Trait-suite generators: deterministic, and each carries its planted trait."""

from collections import Counter

import pytest

from transfer_atlas.tasks import TaskError, available_tasks, load_card
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
