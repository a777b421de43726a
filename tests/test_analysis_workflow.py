"""The analysis rules run through snakemake on the tiny config and the HTML report builds.

To stay fast, the model stages are not run: prepare_data runs for real, then predictions
and score files with a planted transfer pattern are written where `evaluate` would write
them (using the workflow's own score_summary), and snakemake builds the analyses from
there. tests/test_e2e.py runs the whole chain, analyses included, with the tiny model.
"""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import read_json, run_snakemake, tiny_config, write_config
from transfer_atlas import data, io
from transfer_atlas.config import card_overrides, resolve_datasets
from transfer_atlas.evaluate import score_summary
from transfer_atlas.tasks import load_card

NAMES = ["arith_small", "sentiment2", "paraphrase"]
ANALYSIS = {
    "pca": {"bootstrap": 50},
    "style": {"sample_size": 16},
    "semantic": {"sample_size": 16},
    "mantel": {"permutations": 99},
    "dependency": {"min_count": 2, "bootstrap": 50},
}
# planted accuracy (fraction of eval examples correct): every adapter is best on its own task
ACCURACY = {
    "base": [0.25, 0.5, 0.5],
    "arith_small": [0.75, 0.5, 0.5],
    "sentiment2": [0.25, 1.0, 0.75],
    "paraphrase": [0.25, 0.75, 1.0],
}


def fake_rows(records, card, accuracy, n_words):
    rows, n_ok = [], round(accuracy * len(records))
    for i, r in enumerate(records):
        ok = i < n_ok
        if card.is_generation:
            answer = r["label"] if ok else "-1"
            rows.append(
                {
                    "id": r["id"],
                    "prompt": r["prompt"],
                    "gold": r["label"],
                    "output": " ".join(["so"] * n_words + [f"#### {answer}"]),
                    "correct": ok,
                    "correct_strict": ok,
                    "correct_flexible": ok,
                    "n_output_tokens": n_words + 2,
                }
            )
        else:
            wrong = [lab for lab in card.labels if lab != r["label"]][0]
            pred = r["label"] if ok else wrong
            rows.append(
                {
                    "id": r["id"],
                    "prompt": r["prompt"],
                    "gold": r["label"],
                    "output": pred,
                    "pred_other": pred,
                    "correct": ok,
                    "correct_other": ok,
                    "n_output_tokens": 1,
                }
            )
    return rows


def fabricate_evaluations(work, config):
    """model_info, adapter folders, predictions, scores and profiles, newer than the data."""
    res = work / "results"
    io.write_json(res / "models" / "tiny" / "model_info.json", {"name": "tiny"})
    specs = resolve_datasets(config)
    for adapter, accuracies in ACCURACY.items():
        key = adapter if adapter == "base" else f"{adapter}/seed0"
        if adapter != "base":
            (res / "adapters" / "tiny" / key).mkdir(parents=True)
        for target, accuracy in zip(NAMES, accuracies, strict=True):
            card = load_card(specs[target]["task"], card_overrides(specs[target]))
            records = io.read_jsonl(res / "data" / target / "eval.jsonl")
            rows = fake_rows(records, card, accuracy, 30 if adapter == "arith_small" else 3)
            score = {
                "model": "tiny",
                "adapter": adapter,
                "seed": None if adapter == "base" else 0,
                "target": target,
                **score_summary(rows, card, {"bootstrap": 10}, 0),
            }
            io.write_jsonl(res / "predictions" / "tiny" / key / f"{target}.jsonl", rows)
            io.write_json(res / "scores" / "tiny" / key / f"{target}.json", score)
    for name in NAMES:
        d = res / "data" / name
        io.write_json(
            d / "profile.json", {"dataset": name, **data.profile(d / "train.jsonl", d / "eval.jsonl", {})}
        )


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, tiny_model_dir):
    work = tmp_path_factory.mktemp("analysis")
    config = tiny_config(tiny_model_dir, analysis=ANALYSIS)
    cfg = write_config(work / "config.yaml", config)
    run_snakemake(work, cfg, *[f"results/data/{n}/{s}.jsonl" for n in NAMES for s in ("train", "eval")])
    fabricate_evaluations(work, config)
    an = "results/analysis/tiny"
    targets = [  # the analyses and the summary only (the rules of other studies are not needed)
        "results/report/summary.md",
        f"{an}/pca/biplot.png",
        f"{an}/classes/shift.csv",
        f"{an}/length/kde.png",
        f"{an}/asymmetry/asymmetry.png",
        "results/analysis/classes/input_lengths.png",
        f"{an}/flips/flips.html",
    ]
    proc = run_snakemake(work, cfg, "--rerun-triggers=mtime", *targets)
    assert "rule train_lora" not in proc.stderr and "rule evaluate" not in proc.stderr
    return work, cfg, targets


def test_pca_and_mantel_outputs(analysed):
    an = analysed[0] / "results" / "analysis" / "tiny"
    ev = pd.read_csv(an / "pca" / "explained_variance.csv")
    assert list(ev.pc) == ["PC1", "PC2"]  # 3 adapters -> at most 2 components
    assert ev.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert ev.explained_variance_ratio.is_monotonic_decreasing and (ev.ci_low <= ev.ci_high).all()
    loadings = pd.read_csv(an / "pca" / "loadings.csv", index_col="target")
    assert list(loadings.index) == NAMES  # config order
    # planted: arith_small's adapter alone helps arith_small; the classifiers help the classifiers
    naming = read_json(an / "pca" / "pca.json")
    assert naming["top_targets"]["PC1"][0]["target"] == "arith_small"
    mantel = pd.read_csv(an / "similarity" / "mantel.csv").set_index("kind")
    assert set(mantel.index) == {"style", "semantic"}
    assert (mantel.n_pairs == 6).all() and mantel.exact.all() and (mantel.permutations == 6).all()
    assert mantel.mantel_p.between(0, 1).all()


def test_per_target_analyses(analysed):
    an = analysed[0] / "results" / "analysis" / "tiny"
    dep = pd.read_csv(an / "dependency" / "success_ratios.csv")
    assert set(dep.target) == {"arith_small"} and (dep.n_prompts >= 2).all()
    assert list(dict.fromkeys(dep.source)) == NAMES
    every = dep[(dep.source == "arith_small") & (dep.n_prompts == dep.n_prompts.max())]
    assert np.allclose(every.success_ratio, 3.0)  # 75% vs 25% on the relations found in every prompt
    shift = pd.read_csv(an / "classes" / "shift.csv")
    assert list(shift.target.unique()) == ["sentiment2", "paraphrase"]
    assert list(shift[shift.target == "sentiment2"].adapter) == ["base", *NAMES]
    for target in ("sentiment2", "paraphrase"):
        assert (an / "classes" / target / "confusion.png").stat().st_size > 5000
    lengths = pd.read_csv(an / "length" / "lengths.csv").set_index("source")
    assert lengths.loc["arith_small", "mean_output"] == pytest.approx(32.0)  # 30 words + "####" + n
    assert lengths.loc["sentiment2", "w_base"] == pytest.approx(0.0)  # same lengths as the base
    pairs = pd.read_csv(an / "asymmetry" / "pairs.csv")
    assert len(pairs) == 3 and (pairs.asymmetry >= 0).all()
    # interpolation: where arith_small's 32-word outputs sit between the base's 5 and its source's
    train = io.read_jsonl(analysed[0] / "results" / "data" / "arith_small" / "train.jsonl")
    source_mean = np.mean([len(r["target"].split()) for r in train])
    interp = lengths.loc["arith_small", "interpolation"]
    assert interp == pytest.approx((32.0 - 5.0) / (source_mean - 5.0), abs=1e-4)  # CSV rounds to 4 places
    blocks = pd.read_csv(an / "asymmetry" / "blocks.csv").set_index(["source_block", "target_block"])
    # planted ACCURACY: classifiers on arith_small 25 vs base 25 -> 0; arith_small on the classifiers 0
    assert blocks.loc[("classification", "generation"), ["n_pairs", "mean_delta"]].tolist() == [2, 0.0]
    assert blocks.loc[("classification", "classification"), "mean_delta"] == pytest.approx(25.0)
    assert (an / "length" / "interpolation.png").is_file() and (an / "asymmetry" / "blocks.png").is_file()


def test_flips_match_the_planted_accuracies(analysed):
    work = analysed[0]
    counts = pd.read_csv(work / "results" / "matrix" / "tiny" / "flips.csv")
    assert len(counts) == 9  # 3 adapters x 3 targets
    delta = pd.read_csv(work / "results" / "matrix" / "tiny" / "delta.csv", index_col="adapter")
    for r in counts.itertuples():  # fake_rows: the first round(accuracy * n) examples are correct
        assert r.net_points == pytest.approx(delta.loc[r.source, r.target])
    cell = counts.set_index(["source", "target"]).loc[("arith_small", "arith_small")]
    assert cell.losses == 0 and cell.gains == cell.n / 2  # 25% -> 75%
    examples = pd.read_csv(work / "results" / "analysis" / "tiny" / "flips" / "examples.csv")
    gains = examples[(examples.source == "arith_small") & (examples.target == "arith_small")]
    assert (
        (gains.direction == "gain").all()
        and (gains.adapter_tokens == 32).all()
        and (gains.base_tokens == 5).all()
    )
    assert (
        "<select id='pick'>" in (work / "results" / "analysis" / "tiny" / "flips" / "flips.html").read_text()
    )


def test_predict_transfer_outputs(analysed):
    """3 sources, 1 model: leave-one-source-out and leave-one-cell-out over the 6 transfer cells."""
    d = analysed[0] / "results" / "analysis" / "tiny" / "predict"
    table = pd.read_csv(d / "validation.csv")
    assert set(table.scheme) == {"leave-one-source-out", "leave-one-cell-out"}
    assert set(table.n_cells) == {6} and "trait" in set(table.predictor)
    assert {"nearest_style", "nearest_semantic", "completion", "additive"} <= set(table.predictor)
    preds = pd.read_csv(d / "predictions.csv")
    loso = preds[(preds.scheme == "leave-one-source-out") & (preds.predictor == "target_mean")]
    delta = pd.read_csv(analysed[0] / "results" / "matrix" / "tiny" / "delta.csv", index_col="adapter")
    # target mean of the other transfer sources: paraphrase's row on sentiment2 = sentiment2 column
    # without paraphrase and without sentiment2 itself (its own cell) -> arith_small's Δ alone
    row = loso[(loso.source == "paraphrase") & (loso.target == "sentiment2")].iloc[0]
    assert row.predicted == pytest.approx(delta.loc["arith_small", "sentiment2"])
    assert row.observed == pytest.approx(delta.loc["paraphrase", "sentiment2"])
    assert pd.read_csv(d / "next_sources.csv").empty  # no candidates in this config
    assert (d / "predicted_vs_observed.png").stat().st_size > 5000


def test_summary_and_html_report(analysed):
    work, cfg, targets = analysed
    summary = (work / "results" / "report" / "summary.md").read_text()
    assert "| PC1 |" in summary and "Mantel" in summary and "sentiment2 → paraphrase +25.0" in summary
    assert "### Inside the cells" in summary
    assert "by task-type block (transfer pairs, mean Δ): classification → generation +0.0" in summary
    assert "length interpolation (0 = base model's mean length" in summary
    assert "### Transfer prediction" in summary and "leave-one-source-out:" in summary
    html = work / "results" / "report.html"
    run_snakemake(work, cfg, "--rerun-triggers=mtime", "--report", str(html), *targets)
    text = html.read_text(errors="ignore")
    for category in (
        "Latent traits (PCA)",
        "Similarity",
        "Dependency relations",
        "Class distributions",
        "Output length",
        "Asymmetry",
        "Inside the cells",
        "Transfer prediction",
    ):
        assert category in text


def test_summary_says_why_pca_and_mantel_are_absent(tmp_path):
    """Configs too small for PCA / the Mantel test get a reason in summary.md, not a crash."""
    from transfer_atlas.analysis import summary

    delta = tmp_path / "delta.csv"
    pd.DataFrame({"adapter": ["a"], "a": [3.0], "b": [-2.0]}).to_csv(delta, index=False)
    text = summary.write({"m": {"delta": str(delta)}}, {"n_pcs": 2, "n_top": 3}, str(tmp_path / "s.md"))
    assert f"not run: {summary.SKIPPED['pca']}" in text
    assert f"not run: {summary.SKIPPED['mantel']}" in text
    assert "a → b -2.0" in text
