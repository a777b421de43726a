"""Known-answer tests of transfer prediction (analysis/predict) on generated matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import predict
from transfer_atlas.analysis.predict import descriptors as desc
from transfer_atlas.analysis.predict import next_sources, validation
from transfer_atlas.analysis.predict.predictors import TraitModel, additive_fit, complete

SIGMA = 1.0
NOISE_MAE = SIGMA * np.sqrt(2 / np.pi)  # E|N(0, sigma)|
SETTINGS = {
    "n_components": 3, "rank": 2, "shrinkage": 1.0, "max_cells": 0, "level": 0.9,
    "bootstrap": 200, "positive_threshold": 0.0,
}  # fmt: skip


def planted(n=40, d=3, targets=12, seed=0):
    """Sources x targets Δ = 2 + descriptors @ W + N(0, SIGMA); returns (matrix, descriptors, W)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=4.0, size=(d, targets))
    Y = 2.0 + X @ W + rng.normal(scale=SIGMA, size=(n, targets))
    names, cols = [f"s{i}" for i in range(n)], [f"t{j}" for j in range(targets)]
    return (
        pd.DataFrame(Y, index=names, columns=cols),
        pd.DataFrame(X, index=names, columns=[f"x{k}" for k in range(d)]),
        W,
    )


def noisy_similarity(descriptors, scale, seed=1):
    """Cosine similarity of descriptors blurred by noise (a similarity that is only partly informative)."""
    rng = np.random.default_rng(seed)
    noisy = descriptors + rng.normal(scale=scale, size=descriptors.shape)
    return predict.cosine_similarity(noisy)


def mae(table, scheme, name):
    row = table[(table.scheme == scheme) & (table.predictor == name)]
    return float(row.mae.iloc[0])


def test_trait_model_recovers_the_map():
    matrix, X, W = planted(n=60)
    model = TraitModel(n_components=3).fit(X, matrix)
    rel = np.linalg.norm(model.map_ - W) / np.linalg.norm(W)
    assert rel < 0.05
    assert np.allclose(model.intercept_, 2.0, atol=0.6)


def test_trait_model_with_one_profile():
    """Two training sources leave one trait profile (k = 1): still a linear map."""
    matrix, X, _ = planted(n=2, d=3, seed=4)
    model = TraitModel(n_components=3).fit(X, matrix)
    assert model.map_.shape == (3, 12)
    assert np.allclose(model.predict(X).mean(axis=0), matrix.mean(axis=0))


def test_leave_one_source_out_trait_beats_baselines_and_covers():
    matrix, X, _ = planted()
    sims = {"descriptors": predict.cosine_similarity(X), "style": noisy_similarity(X, 1.0)}
    preds = validation.leave_one_source_out("m", matrix, X, sims, SETTINGS)
    preds = validation.add_intervals(preds, 0.9)
    table = validation.metrics(preds, SETTINGS, 0.9, 200, 0)
    trait = mae(table, validation.LOSO, "trait")
    # measured: trait 0.86 vs noise 0.80; baselines 3.13-4.85
    assert trait < 1.2 * NOISE_MAE
    for name in ("target_mean", "nearest_descriptors", "nearest_style"):
        assert trait < 0.5 * mae(table, validation.LOSO, name)
    row = table[table.predictor == "trait"].iloc[0]
    assert abs(row.coverage - 0.9) <= 0.05  # 480 cells: binomial sd 0.014
    assert row.spearman_row > 0.9 and row.sign_accuracy > 0.9
    assert row.mae_ci_low < trait < row.mae_ci_high


def test_jackknife_interval_never_uses_its_own_fold():
    preds = pd.DataFrame(
        {"model": "m", "scheme": "s", "predictor": "p", "fold": ["a", "b", "c", "d"],
         "source": list("abcd"), "target": "t", "observed": [0.0, 0.0, 0.0, 100.0],
         "predicted": [1.0, 2.0, 3.0, 0.0]}
    )  # fmt: skip
    out = validation.add_intervals(preds, 0.5)
    # fold d: others' |residuals| 1, 2, 3 -> ceil(4 * 0.5) = 2nd smallest = 2
    assert out.loc[3, "high"] == 2.0 and out.loc[3, "low"] == -2.0
    # fold a: others 2, 3, 100 -> 3
    assert out.loc[0, "high"] == 4.0
    assert validation.conformal_quantile(np.array([1.0]), 0.9) == np.inf


def low_rank(n=20, targets=10, rank=2, seed=3):
    rng = np.random.default_rng(seed)
    Y = rng.normal(scale=3, size=(n, rank)) @ rng.normal(scale=2, size=(rank, targets))
    Y = Y + rng.normal(scale=SIGMA, size=Y.shape) + 1.0
    return pd.DataFrame(Y, index=[f"s{i}" for i in range(n)], columns=[f"t{j}" for j in range(targets)])


def test_leave_one_cell_out_completion_recovers_low_rank():
    matrix = low_rank()
    sims = {"descriptors": predict.cosine_similarity(matrix)}  # generous to nearest: rows of the full matrix
    preds = validation.add_intervals(validation.leave_one_cell_out("m", matrix, sims, SETTINGS), 0.9)
    table = validation.metrics(preds, SETTINGS, 0.9, 0, 0)
    completion = mae(table, validation.LOCO, "completion")
    # measured: completion 1.04 (noise 0.80, rank-2 fit on 20 x 10 with one cell out); baselines 5.9-6.2
    assert completion < 1.5 * NOISE_MAE
    for name in ("target_mean", "additive", "nearest_descriptors"):
        assert completion < 0.6 * mae(table, validation.LOCO, name)
    assert abs(table.set_index("predictor").loc["completion", "coverage"] - 0.9) <= 0.06


def test_complete_and_additive_known_answers():
    exact = pd.DataFrame(np.outer([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 2.0]) + 5.0)
    hidden = exact.copy()
    hidden.iloc[2, 1] = np.nan
    assert complete(hidden, rank=1).iloc[2, 1] == pytest.approx(exact.iloc[2, 1], abs=1e-3)
    additive = pd.DataFrame(np.add.outer([0.0, 1.0, 4.0], [10.0, 20.0]))
    mu, a, b = additive_fit(additive, shrinkage=0.0, iterations=200)
    fitted = mu + a.to_numpy()[:, None] + b.to_numpy()[None, :]
    assert np.allclose(fitted, additive.to_numpy(), atol=1e-6)
    _, a_shrunk, _ = additive_fit(additive, shrinkage=10.0)
    assert np.all(np.abs(a_shrunk) < np.abs(a))


def test_cross_model_prediction():
    a = low_rank(seed=5)
    rng = np.random.default_rng(6)
    b = 1.5 * a - 2.0 + rng.normal(scale=SIGMA, size=a.shape)
    matrices = {"A": a, "B": b}
    predictions, table = predict.validate(matrices, "B", pd.DataFrame(index=a.index), {}, SETTINGS, 0)
    loco = table[table.scheme == validation.LOCO].set_index("predictor").mae
    # B = 1.5 A - 2 + noise: the fitted map leaves only the noise
    assert loco["cross_model"] < 1.2 * NOISE_MAE
    assert loco["cross_model"] < loco.drop("cross_model").min()
    lomo = table[table.scheme == validation.LOMO].set_index("predictor").mae
    assert set(lomo.index) == {"cross_model", "target_mean"}
    assert lomo["cross_model"] < lomo["target_mean"]
    assert set(predictions.model) == {"B"}


def test_profile_descriptors_known_answer():
    profile = {"splits": {"train": {
        "n": 8, "label_distribution": {"pos": 4, "neg": 4},
        "prompt_words": {"mean": 10.0}, "target_words": {"mean": 1.0},
        "tokens": {"m": {"prompt": {"mean": 14.0}, "target": {"mean": 2.0}}},
    }}}  # fmt: skip
    row = desc.profile_row(profile, "m")
    assert row["profile:label_entropy"] == pytest.approx(1.0)
    assert row["profile:majority_share"] == 0.5 and row["profile:prompt_tokens"] == 14.0
    assert desc.profile_row(profile, "other")["profile:prompt_tokens"] == 10.0


def test_next_sources_ranks_gain_and_uncertainty():
    matrix, X, _ = planted(n=30, d=2, seed=7)
    cands = pd.DataFrame(
        [[3.0, 3.0], [-3.0, -3.0], [0.0, 0.0], [0.0, 6.0]], index=list("abcd"), columns=X.columns
    )
    allx = pd.concat([X, cands])
    model = TraitModel(2).fit(X, matrix)
    truth = model.predict(cands).mean(axis=1)
    preds = validation.leave_one_source_out("m", matrix, X, {}, SETTINGS)
    loso = preds[preds.predictor == "trait"]
    ranked = next_sources.rank(matrix, allx, list("abcd"), list(matrix.columns), loso, 2, 0.9)
    assert list(ranked.candidate) == list(truth.sort_values(ascending=False).index)
    red = ranked.set_index("candidate").uncertainty_reduction
    # the far, unexplored point teaches most; the centre of the training data least
    assert red["d"] == red.max() and red["c"] == red.min()
    assert (
        (ranked.gain_low < ranked.predicted_mean_gain) & (ranked.predicted_mean_gain < ranked.gain_high)
    ).all()


def release_table(
    path, models=("m1", "m2"), tasks=("arc", "hs", "tqa"), langs=("en", "de", "fr", "es"), seed=0
):
    """A release-format table: Δ = model offset + target-language effect + task match + noise."""
    rng = np.random.default_rng(seed)
    lang_eff = dict(zip(langs, rng.normal(scale=3, size=len(langs)), strict=True))
    rows = []
    for k, m in enumerate(models):
        for ft in tasks:
            for fl in langs:
                for et in tasks:
                    for el in langs:
                        delta = k + lang_eff[el] + 4.0 * (ft == et) + rng.normal(scale=0.5)
                        base = 0.4
                        rows.append({"model_name": m, "fine_tuned_dataset": ft, "fine_tuned_language": fl,
                                     "eval_dataset": et, "eval_language": el, "score_base_mean": base,
                                     "score_mean": base + delta / 100})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)


def test_external_table(tmp_path):
    table_path = tmp_path / "release.csv"
    release_table(table_path)
    out = {k: str(tmp_path / f"{k}.csv") for k in ("validation", "predictions", "next_sources")}
    out["figure"] = str(tmp_path / "pvo.png")
    roles = {"external_metric": "acc", "external_scale": "auto", "external_filter": {}}
    settings = dict(SETTINGS, max_cells=60)
    table = predict.run_external(str(table_path), settings, roles, 0, out)
    assert set(table.model) == {"m1", "m2"}
    assert set(table.scheme) == {validation.LOSO, validation.LOCO, validation.LOMO}
    loco = table[(table.scheme == validation.LOCO) & (table.model == "m2")].set_index("predictor").mae
    assert loco["cross_model"] < 1.0 and loco["cross_model"] < loco["target_mean"]
    lomo = table[table.scheme == validation.LOMO].set_index(["model", "predictor"]).mae
    assert lomo[("m1", "cross_model")] < lomo[("m1", "target_mean")]
    written = pd.read_csv(out["predictions"])
    assert len(written) and (written.low <= written.predicted).all()
    assert pd.read_csv(out["next_sources"]).empty
    lines = predict.summary_lines(out["validation"])
    assert any("leave-one-cell-out" in line for line in lines)


def test_summary_line_says_when_no_predictor_wins(tmp_path):
    table = pd.DataFrame(
        {"scheme": ["x", "x", "y", "y"], "predictor": ["trait", "target_mean", "completion", "additive"],
         "baseline": [False, True, False, True], "mae": [2.0, 1.0, 1.0, 3.0], "n_cells": [4, 4, 4, 4]}
    )  # fmt: skip
    path = tmp_path / "v.csv"
    io.write_csv(path, table)
    text = "\n".join(predict.summary_lines(str(path)))
    assert "x: no predictor beats the baselines" in text
    assert "**completion** (MAE 1.00) beats the best baseline additive (MAE 3.00) by 2.00 points" in text


def workflow_files(tmp_path, matrix, X, candidates):
    """The files rule predict_transfer reads, generated from a planted matrix: delta.csv,
    matrix.csv (base row), profile.json whose target length is the planted descriptor, style
    and semantic similarity CSVs."""
    names = list(matrix.index) + list(candidates.index)
    allx = pd.concat([X, candidates])
    delta = matrix.rename_axis("adapter")
    delta.to_csv(tmp_path / "delta.csv")
    scores = pd.concat([pd.DataFrame([50.0] * len(matrix.columns), index=matrix.columns).T, 50 + matrix])
    scores.index = ["base", *matrix.index]
    scores.rename_axis("adapter").to_csv(tmp_path / "matrix.csv")
    profiles = {}
    for name in names:
        stats = {"mean": float(allx.loc[name, "x0"])}
        train = {"n": 10, "label_distribution": {}, "prompt_words": {"mean": 5.0}, "target_words": stats}
        profiles[name] = str(tmp_path / f"{name}.json")
        io.write_json(profiles[name], {"dataset": name, "splits": {"train": train}})
    sim = predict.cosine_similarity(allx).rename_axis("dataset")
    sim.to_csv(tmp_path / "style.csv")
    sim.to_csv(tmp_path / "semantic.csv")
    return {
        "deltas": {"m": str(tmp_path / "delta.csv")},
        "matrix": str(tmp_path / "matrix.csv"),
        "profiles": profiles,
        "style": str(tmp_path / "style.csv"),
        "semantic": str(tmp_path / "semantic.csv"),
    }


def test_run_on_workflow_files_ranks_candidates(tmp_path):
    """One descriptor (the profile's mean target length) drives the rows; the candidate with
    the largest planted gain comes first in next_sources.csv."""
    matrix, X, W = planted(n=12, d=1, targets=6, seed=9)
    X.columns = ["x0"]
    matrix.columns = [f"s{i}" for i in range(6)]  # targets are sources 0-5 (their own cells drop)
    cands = pd.DataFrame({"x0": [2.0, -2.0]}, index=["c_hi", "c_lo"])
    inputs = workflow_files(tmp_path, matrix, X, cands)
    datasets = {d: {"type": "classify", "language": "und", "root": d} for d in [*matrix.index, *cands.index]}
    settings = dict(
        SETTINGS, candidates=["c_hi", "c_lo"], targets=None, descriptors=["profile"], max_cells=20
    )
    out = {k: str(tmp_path / f"{k}.csv") for k in ("validation", "predictions", "next_sources")}
    out["figure"] = str(tmp_path / "pvo.png")
    table = predict.run(inputs, "m", datasets, settings, 0, out)
    loso = table[table.scheme == validation.LOSO].set_index("predictor").mae
    assert loso["trait"] < 1.5 * NOISE_MAE and loso["trait"] < loso.drop("trait").min()
    assert table[table.scheme == validation.LOSO].n_cells.iloc[0] == 12 * 6 - 6  # own cells left out
    ranked = pd.read_csv(out["next_sources"])
    best = "c_hi" if W[0].mean() > 0 else "c_lo"
    assert ranked.candidate.iloc[0] == best
    preds = pd.read_csv(out["predictions"])
    cand = preds[preds.scheme == "candidate"]
    assert set(cand.source) == {"c_hi", "c_lo"} and cand.observed.isna().all()
    assert (cand.low < cand.predicted).all() and (tmp_path / "pvo.png").stat().st_size > 5000


def test_leave_one_model_out_intervals_come_from_the_other_models():
    a = low_rank(n=6, targets=4, seed=11)
    matrices = {"A": a, "B": a + 1.0, "C": a - 1.0, "D": a + 3.0}
    preds = validation.add_intervals(validation.leave_one_model_out(matrices), 0.5)
    cross = preds[preds.predictor == "cross_model"].groupby("model")
    half = cross.apply(lambda g: (g.high - g.predicted).iloc[0], include_groups=False)
    # each model's |error| is a constant shift: |mean of the other offsets - its own offset|
    err = {
        m: abs((sum(x for k, x in matrices.items() if k != m) / 3 - matrices[m]).iloc[0, 0]) for m in matrices
    }
    for m in matrices:
        others = np.sort([err[k] for k in matrices if k != m])
        assert half[m] == pytest.approx(others[1])  # ceil(4 * 0.5) = 2nd of 3


def test_one_source_writes_empty_tables_and_says_why(tmp_path):
    """Too small to hold anything out: empty tables with their columns, a placeholder figure,
    and summary.md says it was not run."""
    matrix, X, _ = planted(n=1, d=1, targets=3, seed=2)
    X.columns = ["x0"]
    matrix.columns = ["s0", "t1", "t2"]
    inputs = workflow_files(tmp_path, matrix, X, X.iloc[:0])
    datasets = {"s0": {"type": "classify", "language": "und", "root": "s0"}}
    settings = dict(SETTINGS, candidates=[], targets=None, descriptors=["profile"])
    out = {k: str(tmp_path / f"{k}.csv") for k in ("validation", "predictions", "next_sources")}
    out["figure"] = str(tmp_path / "pvo.png")
    assert predict.run(inputs, "m", datasets, settings, 0, out).empty
    assert list(pd.read_csv(out["validation"]).columns) == validation.METRIC_COLUMNS
    assert "- not run: too few sources, cells or models" in "\n".join(
        predict.summary_lines(out["validation"])
    )
    assert (tmp_path / "pvo.png").stat().st_size > 1000


def test_language_metadata_descriptors():
    languages = pd.DataFrame(
        {
            "family": ["Indo-European", "Afro-Asiatic"],
            "script": ["Latin", "Arabic"],
            "resource_class": [5, 3],
        },
        index=pd.Index(["de", "ar"], name="iso"),
    )
    roles = {"x.de": {"type": "mc", "language": "de"}, "x.ar": {"type": "mc", "language": "ar"},
             "x.zz": {"type": "mc", "language": "zz"}}  # fmt: skip
    table = desc.descriptor_table(list(roles), ["language"], "m", roles=roles, languages=languages)
    assert table.loc["x.de", "language:resource_class"] == 5.0
    assert table.loc["x.zz", "language:resource_class"] == 4.0  # unknown language: the mean class
    assert table.loc["x.ar", "family:Afro-Asiatic"] == 1.0 and table.loc["x.zz", "family:Afro-Asiatic"] == 0.0
    assert table.loc["x.de", "language:de"] == 1.0
