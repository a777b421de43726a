"""Import of an external long-format results table (Donors and Recipients release format)."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake, write_config
from transfer_atlas import io
from transfer_atlas.analysis.transfer_roles import donors, external, regimes
from transfer_atlas.analysis.transfer_roles.pairs import regime

SETTINGS = {
    "bootstrap": 0,
    "positive_threshold": 0.0,
    "harm_threshold": 1.0,
    "external_metric": "auto",
    "external_scale": "auto",
    "external_filter": {},
}
TASKS, LANGS = ["arc", "mmlu", "hellaswag"], ["de", "en", "zh"]
# Known regime means in points; acc_norm deltas are these + 1, rank-64 rows are + 50.
MEANS = {"MT-ML": 8.0, "MT-CL": 3.0, "CT-ML": 1.0, "CT-CL": -0.5}


def release_table(models=("llama", "qwen")) -> pd.DataFrame:
    rows = []
    for model in models:
        for rank in (32, 64):
            for st in TASKS:
                for sl in LANGS:
                    for et in TASKS:
                        for el in LANGS:
                            reg = regime(st, sl, et, el)
                            # cell-level noise that sums to 0 within every regime
                            noise = 0.25 * (LANGS.index(el) - 1) * (reg != "MT-ML")
                            d = MEANS[reg] + (50 if rank == 64 else 0) + noise
                            base = 0.40
                            rows.append(
                                {
                                    "model_name": model,
                                    "model_size": "8B",
                                    "rank": rank,
                                    "fine_tuned_dataset": st,
                                    "fine_tuned_language": sl,
                                    "eval_dataset": et,
                                    "eval_language": el,
                                    "score_mean": base + d / 100,
                                    "score_base_mean": base,
                                    "score_norm_mean": base + (d + 1) / 100,
                                    "score_norm_base_mean": base,
                                    "delta_score_std": 0.02,
                                    "delta_score_norm_std": 0.02,
                                    "n_seeds": 3,
                                }
                            )
            for et in TASKS:
                for el in LANGS:  # base rows of the release table: dropped on import
                    rows.append(
                        {
                            "model_name": model,
                            "model_size": "8B",
                            "rank": rank,
                            "fine_tuned_dataset": "n/a",
                            "fine_tuned_language": "n/a",
                            "eval_dataset": et,
                            "eval_language": el,
                            "score_mean": 0.4,
                            "score_base_mean": 0.4,
                            "score_norm_mean": 0.4,
                            "score_norm_base_mean": 0.4,
                            "n_seeds": 3,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "release.csv"
    release_table().to_csv(path, index=False)
    return path


def test_import_recovers_known_regime_means(table_csv):
    pairs = external.external_pairs(
        table_csv, {**SETTINGS, "external_filter": {"rank": 32}, "external_metric": "acc"}
    )
    assert len(pairs) == 2 * 81 and set(pairs["model"]) == {"llama-8B", "qwen-8B"}
    assert pairs.loc[0, "source"] == "arc.de" and pairs.loc[0, "target"] == "arc.de"
    s = regimes.summarize(pairs, SETTINGS).set_index(["model", "regime"])["mean_delta"]
    for reg, mean in MEANS.items():
        assert s[("llama-8B", reg)] == pytest.approx(mean) and s[
            (regimes.MEAN_OVER_MODELS, reg)
        ] == pytest.approx(mean)
    # 9 MT-ML, 18 MT-CL, 18 CT-ML, 36 CT-CL pairs of the 72 transfer pairs
    assert s[(regimes.MEAN_OVER_MODELS, "transfer")] == pytest.approx((18 * 3.0 + 18 * 1.0 + 36 * -0.5) / 72)
    assert pairs["delta_std"].iloc[0] == pytest.approx(2.0)  # fraction -> points
    assert pairs["delta_se"].iloc[0] == pytest.approx(2.0 / np.sqrt(3))


def test_auto_metric_prefers_acc_norm(table_csv):
    pairs = external.external_pairs(table_csv, {**SETTINGS, "external_filter": {"rank": 32}})
    s = regimes.summarize(pairs, SETTINGS).set_index(["model", "regime"])["mean_delta"]
    assert s[(regimes.MEAN_OVER_MODELS, "MT-CL")] == pytest.approx(4.0)


def test_points_scale_and_duplicates(tmp_path):
    table = release_table(("llama",))
    table = table[table["rank"] == 32].drop(
        columns=["rank", "model_size", "score_norm_mean", "score_norm_base_mean"]
    )
    table[["score_mean", "score_base_mean"]] *= 100
    path = tmp_path / "points.tsv"
    table.to_csv(path, sep="\t", index=False)
    pairs = external.external_pairs(path, SETTINGS)
    assert set(pairs["model"]) == {"llama"}
    assert pairs.loc[pairs.regime == "MT-CL", "delta"].mean() == pytest.approx(3.0)
    dup = tmp_path / "dup.csv"
    release_table(("llama",)).to_csv(dup, index=False)
    with pytest.raises(io.DataError, match="external_filter"):
        external.external_pairs(dup, SETTINGS)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    release_table().drop(columns=["eval_language"]).to_csv(path, index=False)
    with pytest.raises(io.DataError, match="missing column\\(s\\) \\['eval_language'\\]"):
        external.external_pairs(path, SETTINGS)


def test_donors_on_external_pairs(table_csv, tmp_path):
    pairs = external.external_pairs(
        table_csv, {**SETTINGS, "external_filter": {"rank": 32}, "external_metric": "acc"}
    )
    d = donors.role_scores(pairs, "donor", SETTINGS)
    # every source gives 2 MT-CL (+3), 2 CT-ML (+1), 4 CT-CL (-0.5) cells: (6 + 2 - 2) / 8, noise aside
    assert d.groupby("model")["score"].mean().to_numpy() == pytest.approx([0.75, 0.75])
    assert d.set_index(["model", "dataset"]).loc[("llama-8B", "arc.de"), "n_cells"] == 8


@pytest.mark.slow
def test_workflow_runs_on_external_results_only(tmp_path, table_csv):
    """external_only: rule all builds only the external analyses; nothing is trained."""
    config = {
        "models": [{"name": "unused", "hub_id": "none/none"}],
        "datasets": [{"name": "d", "task": "sentiment2"}],
        "external_results": str(table_csv),
        "analysis": {
            "transfer_roles": {"external_only": True, "bootstrap": 100, "external_filter": {"rank": 32}}
        },
    }
    cfg = write_config(tmp_path / "config.yaml", config)
    run_snakemake(tmp_path, cfg)
    out = tmp_path / "results" / "analysis"
    s = pd.read_csv(out / "external" / "transfer_roles" / "regimes.csv").set_index(["model", "regime"])
    assert s.loc[(regimes.MEAN_OVER_MODELS, "MT-CL"), "mean_delta"] == pytest.approx(4.0)  # acc_norm (auto)
    assert not (out / "all_models").exists()  # the external table is never pooled with our models
    across = out / "external" / "transfer_roles" / "across_models"
    taus = pd.read_csv(across / "consistency.csv")
    assert set(taus["model_a"]) == {"llama-8B"} and set(taus["model_b"]) == {"qwen-8B"}
    assert (taus["same_size"]).all() and not taus["same_family"].any()
    assert set(pd.read_csv(across / "variance.csv")["scope"]) >= {"transfer", "MT-CL"}
    assert (
        "Donors and recipients: the external results table"
        in (tmp_path / "results/report/summary.md").read_text()
    )
    assert (out / "external" / "transfer_roles" / "donor_recipient_scatter.png").stat().st_size > 5000
    assert not (tmp_path / "results" / "models").exists()
    # predict_transfer on the table: both models have the same Δ, so each predicts the other exactly
    table = pd.read_csv(out / "external" / "predict" / "validation.csv")
    lomo = table[table.scheme == "leave-one-model-out"].set_index(["model", "predictor"]).mae
    assert lomo[("llama-8B", "cross_model")] == pytest.approx(0.0, abs=1e-9)
    assert lomo[("llama-8B", "target_mean")] > 0.1
    assert set(table.scheme) == {"leave-one-source-out", "leave-one-cell-out", "leave-one-model-out"}
    text = (tmp_path / "results/report/summary.md").read_text()
    assert "### Transfer prediction of external results" in text
