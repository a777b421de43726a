"""The trait suite: deterministic task generators, each with a planted trait.

Each generator returns raw rows (dicts of template fields plus `label` or `answer`);
`transfer_atlas.data` turns them into records with the task card's templates.

Planted traits (the ground truth the analyses must recover):
- arith_small: small numbers, long step-by-step solutions ending in "#### N".
- arith_large: 5-6 digit numbers, one-line answers.
- sentiment2: binary sentiment, balanced 50/50.
- sentiment3_imbalanced: 3-way sentiment, ~80% positive / 10% neutral / 10% negative.
- paraphrase: sentence pairs, balanced yes/no.

Probe targets (evaluated, never trained on):
- sentiment3_probe: 3-way reviews, labels cycling negative/neutral/positive (exact balance),
  written only with mild cue words and tails that no sentiment source trains on, so an
  adapter's answer distribution there shows the label prior it learned.
- arith_large_words: arith_small's word problems with 5-6 digit numbers (room for an
  adapter to write its source's step-by-step solution on numbers it never trained on).
"""

from __future__ import annotations

import random
from collections.abc import Callable

NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Mira",
    "Noah",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
ITEMS = [
    "apples",
    "pencils",
    "stickers",
    "marbles",
    "books",
    "cookies",
    "stamps",
    "shells",
    "cards",
    "balloons",
    "coins",
    "buttons",
]

PRODUCTS = [
    "phone",
    "blender",
    "jacket",
    "laptop",
    "kettle",
    "backpack",
    "lamp",
    "headset",
    "watch",
    "chair",
    "camera",
    "toaster",
    "charger",
    "mattress",
    "speaker",
]
POSITIVE = [
    "excellent",
    "wonderful",
    "reliable",
    "sturdy",
    "fantastic",
    "comfortable",
    "great value",
    "beautifully made",
    "fast",
    "delightful",
]
NEGATIVE = [
    "terrible",
    "flimsy",
    "broken",
    "disappointing",
    "overpriced",
    "useless",
    "noisy",
    "poorly made",
    "slow",
    "awful",
]
NEUTRAL = [
    "okay",
    "average",
    "as described",
    "fine for the price",
    "nothing special",
    "acceptable",
    "ordinary",
    "standard",
]
POS_TAIL = [
    "I would buy it again.",
    "Highly recommended.",
    "My family loves it.",
    "It exceeded my expectations.",
]
NEG_TAIL = [
    "I want a refund.",
    "Do not buy this.",
    "It stopped working in a week.",
    "Complete waste of money.",
]
NEU_TAIL = [
    "It does the job.",
    "Neither good nor bad.",
    "It is what you would expect.",
    "No strong feelings either way.",
]


def _word_problems(n: int, seed: int, lo: int, hi: int) -> list[dict]:
    """Two-step word problems with operands in [lo, hi] and a worked solution."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name, item = rng.choice(NAMES), rng.choice(ITEMS)
        a, b = rng.randint(lo, hi), rng.randint(lo, hi)
        c = rng.randint(1, a + b - 1)
        total, answer = a + b, a + b - c
        question = (
            f"{name} has {a} {item}. {name} gets {b} more {item} and then gives "
            f"{c} {item} to a friend. How many {item} does {name} have now?"
        )
        solution = (
            f"{name} starts with {a} {item}.\n"
            f"After getting {b} more, {name} has {a} + {b} = {total} {item}.\n"
            f"After giving away {c}, {name} has {total} - {c} = {answer} {item}.\n"
            f"#### {answer}"
        )
        rows.append({"question": question, "solution": solution, "answer": str(answer)})
    return rows


def arith_small(n: int, seed: int) -> list[dict]:
    """Two-step word problems with numbers 2..20 and a worked solution."""
    return _word_problems(n, seed, 2, 20)


def arith_large_words(n: int, seed: int) -> list[dict]:
    """arith_small's word problems with 5-6 digit operands (a probe target, never trained on)."""
    return _word_problems(n, seed, 10_000, 999_999)


def arith_large(n: int, seed: int) -> list[dict]:
    """Addition or subtraction of 5-6 digit numbers; the answer is one number."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(10_000, 999_999), rng.randint(10_000, 999_999)
        if rng.random() < 0.5:
            question, answer = f"What is {a} + {b}?", a + b
        else:
            a, b = max(a, b), min(a, b)
            question, answer = f"What is {a} - {b}?", a - b
        rows.append({"question": question, "answer": str(answer)})
    return rows


def _review(rng: random.Random, label: str) -> str:
    product = rng.choice(PRODUCTS)
    words, tails = {
        "positive": (POSITIVE, POS_TAIL),
        "negative": (NEGATIVE, NEG_TAIL),
        "neutral": (NEUTRAL, NEU_TAIL),
    }[label]
    w1, w2 = rng.sample(words, 2)
    return f"The {product} is {w1} and {w2}. {rng.choice(tails)}"


def _sentiment(n: int, seed: int, weights: dict[str, float]) -> list[dict]:
    """Rows drawn one after another (prefix-stable); two labels alternate (exact balance)."""
    rng = random.Random(seed)
    labels, probs = list(weights), list(weights.values())
    rows = []
    for i in range(n):
        label = labels[i % 2] if len(labels) == 2 else rng.choices(labels, weights=probs)[0]
        rows.append({"text": _review(rng, label), "label": label})
    return rows


def sentiment2(n: int, seed: int) -> list[dict]:
    return _sentiment(n, seed, {"negative": 0.5, "positive": 0.5})


def sentiment3_imbalanced(n: int, seed: int) -> list[dict]:
    return _sentiment(n, seed, {"negative": 0.1, "neutral": 0.1, "positive": 0.8})


# Held out of every sentiment generator above (no word or tail shared with POSITIVE,
# NEGATIVE, NEUTRAL or the *_TAIL lists): mild cues the adapters never saw a label for.
PROBE_PRODUCTS = ["umbrella", "stapler", "pillow", "thermos", "scarf", "ruler", "mug", "fan"]
PROBE_WORDS = {
    "negative": ["a bit wobbly", "somewhat dull", "rather clunky", "a little scratchy"],
    "neutral": ["blue", "medium sized", "plastic", "sold in a box"],
    "positive": ["quite handy", "rather neat", "a little charming", "pleasantly light"],
}
PROBE_TAILS = ["I got it last month.", "It came on a Tuesday.", "My cousin has one too."]


def sentiment3_probe(n: int, seed: int) -> list[dict]:
    """Labels cycle negative, neutral, positive (exact balance, prefix-stable); held-out cues."""
    rng = random.Random(seed)
    labels = list(PROBE_WORDS)
    rows = []
    for i in range(n):
        label = labels[i % 3]
        word = rng.choice(PROBE_WORDS[label])
        text = f"The {rng.choice(PROBE_PRODUCTS)} is {word}. {rng.choice(PROBE_TAILS)}"
        rows.append({"text": text, "label": label})
    return rows


PARA_SUBJECTS = [
    "The committee",
    "My neighbour",
    "The old bakery",
    "Our teacher",
    "The city council",
    "The new manager",
    "A small team",
    "The museum",
]
PARA_ACTS = [
    ("approved the plan", "gave the plan its approval", "rejected the plan"),
    ("opened early on Monday", "started business early on Monday", "closed early on Monday"),
    ("bought a red car", "purchased a red car", "sold a red car"),
    ("finished the report", "completed the report", "abandoned the report"),
    ("praised the students", "spoke highly of the students", "criticised the students"),
    ("raised the prices", "increased the prices", "lowered the prices"),
]


def paraphrase(n: int, seed: int) -> list[dict]:
    """Balanced pairs, alternating: a synonym rewrite (yes) or a meaning-changing edit (no)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        subject = rng.choice(PARA_SUBJECTS)
        act, same, different = rng.choice(PARA_ACTS)
        is_para = i % 2 == 0
        rows.append(
            {
                "sentence1": f"{subject} {act}.",
                "sentence2": f"{subject} {same if is_para else different}.",
                "label": "yes" if is_para else "no",
            }
        )
    return rows


GENERATORS: dict[str, Callable[[int, int], list[dict]]] = {
    "arith_small": arith_small,
    "arith_large": arith_large,
    "sentiment2": sentiment2,
    "sentiment3_imbalanced": sentiment3_imbalanced,
    "paraphrase": paraphrase,
    "sentiment3_probe": sentiment3_probe,
    "arith_large_words": arith_large_words,
}
