"""Dataset similarity: style features of hand-made parses, z-scores, cosine matrices."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import similarity

ROWS = [
    {
        "id": "a",
        "sents": [
            [["I", "PRON", "nsubj"], ["saw", "VERB", "ROOT"], ["12", "NUM", "dobj"], [".", "PUNCT", "punct"]]
        ],
    },
    {"id": "b", "sents": [[["Go", "VERB", "ROOT"], ["!", "PUNCT", "punct"]], [["go", "VERB", "ROOT"]]]},
]


def test_style_vector_hand_computed():
    v = similarity.style_vector(ROWS)
    assert v["pos_VERB"] == pytest.approx(3 / 7)
    assert v["dep_punct"] == pytest.approx(2 / 7)
    assert v["sentence_length"] == pytest.approx((3 + 1 + 1) / 3)  # words (no punctuation) per sentence
    assert v["word_length"] == pytest.approx((1 + 3 + 2 + 2) / 4)  # alphabetic words: I, saw, Go, go
    assert v["punctuation_rate"] == pytest.approx(2 / 7)
    assert v["digit_rate"] == pytest.approx(2 / 12)  # characters: I saw 12 . Go ! go
    assert v["type_token_ratio"] == pytest.approx((3 / 3 + 1 / 2) / 2)  # "go" twice in b


def test_cosine_and_zscore():
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 0.0], "y": [0.0, 0.0, 3.0], "const": [5.0, 5.0, 5.0]}, index=["a", "b", "c"]
    )
    z = similarity.zscore(frame)
    assert list(z.columns) == ["x", "y"]
    np.testing.assert_allclose(z.mean(), 0.0, atol=1e-12)
    sim = similarity.cosine_matrix(frame[["x", "y"]])
    assert sim.loc["a", "b"] == pytest.approx(1.0) and sim.loc["a", "c"] == pytest.approx(0.0)
    assert list(sim.index) == ["a", "b", "c"]


def test_sample_keeps_order_and_mean_pool_ignores_padding():
    import torch

    recs = [{"id": str(i)} for i in range(10)]
    picked = similarity.sample(recs, 4, seed=0)
    assert len(picked) == 4 and [int(r["id"]) for r in picked] == sorted(int(r["id"]) for r in picked)
    assert similarity.sample(recs, None, 0) == recs
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert similarity.mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]
