"""End to end: a 2-task x 3-language grid (SIB-200, MGSM), 2 seeds, tiny model -> regimes,
donors and recipients. Reads the shared multilingual samples (skips when absent)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import run_snakemake, tiny_config, write_config
from transfer_atlas.analysis.transfer_roles.pairs import REGIMES, TRANSFER

pytestmark = pytest.mark.slow
LANGS = ["en", "de", "zh"]
NAMES = [f"{task}.{lang}" for task in ("sib200", "mgsm") for lang in LANGS]
# Two sources (one per task) keep the run under ~3 minutes on 2 idle cores (4 adapters, 30
# evaluation cells) and still give every regime: each source has 1 MT-ML, 2 MT-CL, 1 CT-ML and
# 2 CT-CL targets; all 6 datasets are targets (recipients).
SOURCES = ["sib200.en", "mgsm.zh"]
FOLDER = "results/analysis/tiny/transfer_roles"
ALL = "results/analysis/all_models/transfer_roles"
OUTPUTS = [
    f"{FOLDER}/{f}"
    for f in (
        "pairs.csv",
        "regimes.csv",
        "regimes.png",
        "donors.csv",
        "recipients.csv",
        "roles_by_regime.csv",
        "roles_by_group.csv",
        "language_heatmap.csv",
        "language_heatmap.png",
        "task_heatmap.csv",
        "task_heatmap.png",
        "donor_recipient_scatter.png",
    )
]
OUTPUTS += [
    f"{ALL}/{f}"
    for f in (
        "regimes.csv",
        "regimes.png",
        "donors.csv",
        "recipients.csv",
        "role_consistency.csv",
        "role_consistency.png",
        "across_models/variance.csv",
        "across_models/on_off_task.csv",
        "across_models/variance.png",
    )
]


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory, tiny_model_dir):
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    work = tmp_path_factory.mktemp("multilingual")
    datasets = [
        {
            "name": "sib200",
            "task": "sib200",
            "path": str(SHARED_DATA / "sib200"),
            "n_train": 16,
            "n_eval": 8,
            "seed": 1,
            "languages": LANGS,
        },
        {
            "name": "mgsm",
            "task": "mgsm",
            "path": str(SHARED_DATA / "mgsm"),
            "n_train": 16,
            "n_eval": 8,
            "seed": 2,
            "languages": LANGS,
        },
    ]
    config = tiny_config(
        tiny_model_dir,
        datasets,
        seeds=[0, 1],
        sources=SOURCES,
        analysis={"transfer_roles": {"bootstrap": 200}},
    )
    # 352 tokens keep whole MGSM zh prompts (<= 334); lr 0.05 makes 2 steps move predictions
    config["train"].update(steps=2, lr=0.05, checkpoint_every=0, max_length=352)
    config["evaluate"].update(bootstrap=0)
    cfg = write_config(work / "config.yaml", config)
    run_snakemake(work, cfg, *OUTPUTS, timeout=2400)  # ~3 min on 2 idle cores; slack for busy machines
    return work


def test_every_output_exists(grid_run):
    for path in OUTPUTS:
        # CSVs: at least a header (the CT-ML task heatmap of 2 tasks, 2 x 2 with a masked
        # diagonal, is ~46 bytes)
        assert (grid_run / path).stat().st_size > (5000 if path.endswith(".png") else 30), path


def test_pairs_cover_the_grid_with_regimes_and_seeds(grid_run):
    pairs = pd.read_csv(grid_run / FOLDER / "pairs.csv", keep_default_na=False)
    assert len(pairs) == 12 and set(pairs["source"]) == set(SOURCES) and set(pairs["target"]) == set(NAMES)
    # per source: 1 direct cell, 2 same-task other-language, 1 other-task same-language, 2 CT-CL
    assert pairs["regime"].value_counts().to_dict() == {"MT-ML": 2, "MT-CL": 4, "CT-ML": 2, "CT-CL": 4}
    row = pairs.set_index(["source", "target"]).loc[("mgsm.zh", "sib200.zh")]
    assert (row["regime"], row["source_language"], row["target_task"]) == ("CT-ML", "zh", "sib200")
    assert (pairs["n_seeds"] == 2).all()
    assert (pairs["delta"] - (pairs["value"] - pairs["base_value"])).abs().max() < 1e-6
    assert pairs["delta"].abs().max() <= 100


def test_regime_table_matches_the_pairs(grid_run):
    pairs = pd.read_csv(grid_run / FOLDER / "pairs.csv")
    summary = pd.read_csv(grid_run / FOLDER / "regimes.csv").set_index("regime")
    assert list(summary.index) == [*REGIMES, "transfer"]
    for regime in REGIMES:
        sel = pairs[pairs["regime"] == regime]["delta"]
        assert summary.loc[regime, "mean_delta"] == pytest.approx(sel.mean())
        assert summary.loc[regime, "share_harm"] == pytest.approx((sel <= -1.0).mean())
    transfer = pairs[pairs["regime"].isin(TRANSFER)]["delta"]
    assert summary.loc["transfer", "mean_delta"] == pytest.approx(transfer.mean())
    assert summary.loc["transfer", "n_pairs"] == 10


def test_donors_recipients_and_heatmaps(grid_run):
    pairs = pd.read_csv(grid_run / FOLDER / "pairs.csv")
    donors = pd.read_csv(grid_run / FOLDER / "donors.csv")
    assert len(donors) == 2 and (donors["n_cells"] == 5).all() and sorted(donors["rank"])[0] == 1
    d = donors.set_index("dataset").loc["mgsm.zh", "score"]
    own = (pairs["source"] == "mgsm.zh") & (pairs["target"] != "mgsm.zh")
    recipients = pd.read_csv(grid_run / FOLDER / "recipients.csv")
    assert len(recipients) == 6 and set(recipients["dataset"]) == set(NAMES)
    assert d == pytest.approx(pairs.loc[own, "delta"].mean(), abs=1e-4)
    lang = pd.read_csv(grid_run / FOLDER / "language_heatmap.csv", index_col=0, keep_default_na=False)
    task = pd.read_csv(grid_run / FOLDER / "task_heatmap.csv", index_col=0)
    assert list(lang.index) == ["en", "zh"] and list(lang.columns) == LANGS and task.shape == (2, 2)
    groups = pd.read_csv(grid_run / FOLDER / "roles_by_group.csv", keep_default_na=False)
    assert {"language", "task"} == set(groups["kind"]) and set(groups["regime"]) == {"MT-CL", "CT-ML"}
    all_regimes = pd.read_csv(grid_run / ALL / "regimes.csv")
    assert set(all_regimes["model"]) == {"tiny"}
    assert pd.read_csv(grid_run / ALL / "role_consistency.csv").empty  # one base model
