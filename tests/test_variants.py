"""Dataset variants declared in config do exactly what they say, on real Flipkart reviews."""

from collections import Counter

import pytest

from transfer_atlas import config, data, io

LABELS = ["negative", "neutral", "positive"]
NEXT = {"negative": "neutral", "neutral": "positive", "positive": "negative"}  # flip = next label


@pytest.fixture
def prepared(shared_datasets, tmp_path):
    """prepare(name) -> (train, eval) records of a dataset of a config whose variants are
    declared with `variant_of: flipkart` (resolved as the workflow resolves them)."""
    parent = {
        "name": "flipkart",
        "task": "flipkart",
        "path": str(shared_datasets / "flipkart"),
        "n_train": 3000,
        "n_eval": 400,
        "seed": 11,
    }
    variants = [
        {"name": "flipkart@balanced", "variant_of": "flipkart", "balance": True, "variant_splits": ["train"]},
        {
            "name": "flipkart@ratio",
            "variant_of": "flipkart",
            "class_ratio": {"positive": 4, "negative": 2, "neutral": 1},
            "variant_splits": ["train"],
        },
        {
            "name": "flipkart@flip",
            "variant_of": "flipkart",
            "mislabel": {"mode": "flip", "rate": 1.0},
            "variant_splits": ["train"],
        },
        {
            "name": "flipkart@flip30",
            "variant_of": "flipkart",
            "mislabel": {"mode": "flip", "rate": 0.3},
            "variant_splits": ["train"],
        },
        {"name": "flipkart@random", "variant_of": "flipkart", "mislabel": {"mode": "random", "rate": 1.0}},
        {
            "name": "flipkart@random50",
            "variant_of": "flipkart",
            "mislabel": {"mode": "random", "rate": 0.5},
            "variant_splits": ["train"],
        },
        {"name": "flipkart@small", "variant_of": "flipkart", "max_examples": 120},
    ]
    specs = config.resolve_datasets({"datasets": [parent, *variants]})
    cache = {}

    def prepare(name):
        if name not in cache:
            out = [tmp_path / f"{name}.{s}.jsonl" for s in ("train", "eval")]
            data.prepare(specs[name], *out)
            cache[name] = tuple(io.read_jsonl(p, data.RECORD_FIELDS) for p in out)
        return cache[name]

    return prepare


def _strip_ids(records):
    return [{k: v for k, v in r.items() if k != "id"} for r in records]


def test_parent_is_the_imbalanced_real_distribution(prepared):
    train, _ = prepared("flipkart")
    counts = Counter(r["label"] for r in train)
    assert (
        len(train) == 3000 and counts["positive"] > 0.75 * 3000 and 0 < counts["neutral"] < counts["negative"]
    )


def test_balance_gives_equal_classes_of_the_rarest_size(prepared):
    parent, parent_eval = prepared("flipkart")
    train, evalr = prepared("flipkart@balanced")
    rarest = min(Counter(r["label"] for r in parent).values())
    assert Counter(r["label"] for r in train) == {label: rarest for label in LABELS}
    parent_rows = {r["prompt"] for r in parent}
    assert all(r["prompt"] in parent_rows for r in train)  # a subset of the parent's inputs
    assert _strip_ids(evalr) == _strip_ids(parent_eval)  # variant_splits: [train]


def test_class_ratio_gives_the_ratio(prepared):
    parent, _ = prepared("flipkart")
    counts = Counter(r["label"] for r in prepared("flipkart@ratio")[0])
    assert counts["positive"] == 2 * counts["negative"] == 4 * counts["neutral"]
    # the largest such subsample: the rarest class relative to its weight is used up
    parent_counts = Counter(r["label"] for r in parent)
    unit = min(parent_counts["positive"] // 4, parent_counts["negative"] // 2, parent_counts["neutral"])
    assert counts["neutral"] == unit


def test_flip_rate_1_flips_every_label_and_keeps_inputs(prepared):
    parent, parent_eval = prepared("flipkart")
    train, evalr = prepared("flipkart@flip")
    assert [r["prompt"] for r in train] == [r["prompt"] for r in parent]
    assert [r["target"] for r in train] == [" " + NEXT[r["label"]] for r in parent]
    assert all(
        r["label"] == NEXT[p["label"]] and r["meta"]["original_label"] == p["label"]
        for r, p in zip(train, parent, strict=True)
    )
    assert _strip_ids(evalr) == _strip_ids(parent_eval)


def test_flip_rate_03_flips_30_percent(prepared):
    parent, _ = prepared("flipkart")
    train, _ = prepared("flipkart@flip30")
    changed = [(r, p) for r, p in zip(train, parent, strict=True) if r["label"] != p["label"]]
    assert len(changed) == round(0.3 * len(parent)) == 900
    assert all(r["label"] == NEXT[p["label"]] and r["meta"]["mislabeled"] for r, p in changed)
    assert sum(bool(r["meta"].get("mislabeled")) for r in train) == 900
    assert [r["prompt"] for r in train] == [r["prompt"] for r in parent]


def test_random_mode_never_keeps_the_original_label(prepared):
    parent, parent_eval = prepared("flipkart")
    train, evalr = prepared("flipkart@random")  # both splits
    for new, old in ((train, parent), (evalr, parent_eval)):
        assert all(r["label"] != p["label"] and r["label"] in LABELS for r, p in zip(new, old, strict=True))
    assert (
        len(Counter(r["label"] for r, p in zip(train, parent, strict=True) if p["label"] == "positive")) == 2
    )
    train50, _ = prepared("flipkart@random50")
    changed = [(r, p) for r, p in zip(train50, parent, strict=True) if r["meta"].get("mislabeled")]
    assert len(changed) == 1500 and all(r["label"] != p["label"] for r, p in changed)
    assert all(
        r["label"] == p["label"]
        for r, p in zip(train50, parent, strict=True)
        if not r["meta"].get("mislabeled")
    )


def test_max_examples_caps_both_splits(prepared):
    parent, parent_eval = prepared("flipkart")
    train, evalr = prepared("flipkart@small")
    assert len(train) == 120 and len(evalr) == 120
    assert {r["prompt"] for r in train} <= {r["prompt"] for r in parent}
    assert {r["prompt"] for r in evalr} <= {r["prompt"] for r in parent_eval}
