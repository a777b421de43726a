"""Across-model analyses of the Donors and Recipients study on generated pairs tables:
consistency index (Kendall τ-b), variance decomposition (REML), hierarchy, on/off task."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from transfer_atlas.analysis.transfer_roles import across_models, consistency, hierarchy, variance
from transfer_atlas.analysis.transfer_roles.pairs import PAIR_COLUMNS, label_regimes

SETTINGS = {"bootstrap": 50, "positive_threshold": 0.0, "harm_threshold": 1.0}


def grid(models, langs, tasks, delta_fn, families=None) -> pd.DataFrame:
    """Pairs table of every model x (task, language) source x target; Δ = delta_fn(row)."""
    cells = [(t, lang) for t in tasks for lang in langs]
    rows = []
    for m in models:
        for st, sl in cells:
            for tt, tl in cells:
                rows.append(
                    {
                        "model": m,
                        "model_family": (families or {}).get(m, m),
                        "model_size": "1B",
                        "source": f"{st}.{sl}",
                        "target": f"{tt}.{tl}",
                        "source_task": st,
                        "source_language": sl,
                        "target_task": tt,
                        "target_language": tl,
                    }
                )
    pairs = pd.DataFrame(rows)
    pairs["regime"] = label_regimes(pairs)
    pairs["kind"] = np.where(pairs["source"] == pairs["target"], "direct", "transfer")
    pairs["delta"] = [delta_fn(r) for r in pairs.itertuples()]
    for col in ("delta_std", "delta_se", "value", "base_value"):
        pairs[col] = 0.0
    pairs["n_seeds"] = 1
    return pairs[PAIR_COLUMNS]


def test_tau_b_equals_scipy_on_a_hand_case():
    """Two models, one source, 5 MT-CL recipients with a tie: τ-b is scipy's."""
    a = {"l1": 1.0, "l2": 2.0, "l3": 2.0, "l4": 5.0, "l5": 0.5, "l0": 9.0}
    b = {"l1": 0.0, "l2": 3.0, "l3": 1.0, "l4": 4.0, "l5": 2.0, "l0": 9.0}
    langs = ["l0", "l1", "l2", "l3", "l4", "l5"]

    def delta(r):
        value = (a if r.model == "ma" else b)[r.target_language]
        return value if r.source_language == "l0" else 0.0

    pairs = grid(["ma", "mb"], langs, ["T"], delta)
    taus = consistency.tau_table(pairs)
    row = taus[(taus.source == "T.l0") & (taus.regime == "MT-CL")].iloc[0]
    keys = ["l1", "l2", "l3", "l4", "l5"]
    expected = kendalltau([a[k] for k in keys], [b[k] for k in keys], variant="b")
    assert row["tau_b"] == pytest.approx(expected.statistic) and row["n_recipients"] == 5
    assert row["p_value"] == pytest.approx(expected.pvalue)


def planted(seed=0) -> pd.DataFrame:
    """MT-CL recipients share a target effect across models (little noise), CT-ML more noise,
    CT-CL pure noise: the predictability ordering MT-CL > CT-ML > CT-CL is planted."""
    rng = np.random.default_rng(seed)
    langs, tasks = [f"l{i}" for i in range(6)], ["A", "B", "C", "D", "E"]
    effect = {(t, lang): rng.normal(0, 3) for t in tasks for lang in langs}
    noise = {"MT-CL": 0.3, "CT-ML": 3.0, "CT-CL": 30.0, "MT-ML": 1.0}

    def delta(r):
        regime = ("MT" if r.source_task == r.target_task else "CT") + (
            "-ML" if r.source_language == r.target_language else "-CL"
        )
        return effect[(r.target_task, r.target_language)] + rng.normal(0, noise[regime])

    return grid(
        ["m1", "m2", "m3", "m4"], langs, tasks, delta, {"m1": "f1", "m2": "f1", "m3": "f2", "m4": "f2"}
    )


def test_planted_predictability_ordering_is_recovered():
    summary = consistency.summarize(consistency.tau_table(planted())).set_index(["regime", "grouping"])
    med = {r: summary.loc[(r, "all"), "median"] for r in ("MT-CL", "CT-ML", "CT-CL")}
    assert med["MT-CL"] > med["CT-ML"] > med["CT-CL"]
    assert med["MT-CL"] > 0.8 and abs(med["CT-CL"]) < 0.2
    assert (
        summary.loc[("MT-CL", "same family"), "n"] + summary.loc[("MT-CL", "different family"), "n"]
        == (summary.loc[("MT-CL", "all"), "n"])
    )


def test_planted_variance_components_are_recovered():
    """Δ = target language (var 9) + source language (1) + target task (4) + model (2.25) + ε (1).
    Tolerance: each REML variance within 40% of the sample variance of its planted effects
    (few levels per factor), the residual within 10%, shares sum to 1."""
    rng = np.random.default_rng(7)
    langs, tasks, models = [f"l{i}" for i in range(8)], ["A", "B", "C", "D", "E"], [f"m{i}" for i in range(6)]
    eff = {
        "target language": {x: rng.normal(0, 3) for x in langs},
        "source language": {x: rng.normal(0, 1) for x in langs},
        "target task": {x: rng.normal(0, 2) for x in tasks},
        "model": {x: rng.normal(0, 1.5) for x in models},
    }
    cols = {
        "target language": "target_language",
        "source language": "source_language",
        "target task": "target_task",
    }

    def delta(r):
        value = sum(eff[name][getattr(r, col)] for name, col in cols.items()) + eff["model"][r.model]
        return value + rng.normal(0, 1)

    pairs = grid(models, langs, tasks, delta)
    table = variance.variance_table(pairs)
    overall = table[table.scope == "transfer"].set_index("component")
    for name, effects in eff.items():
        realised = np.var(list(effects.values()), ddof=1)
        assert overall.loc[name, "variance"] == pytest.approx(realised, rel=0.4)
    assert overall.loc["residual", "variance"] == pytest.approx(1.0, rel=0.1)
    assert overall.loc["source task", "share"] < 0.02
    assert overall["share"].sum() == pytest.approx(1.0)
    mtcl = table[table.scope == "MT-CL"].set_index("component")
    assert "target task = source task" in mtcl.index or "source task = target task" in mtcl.index


def test_reml_equals_statsmodels_mixedlm_on_a_small_table():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.integers(0, 5, 120), "b": rng.integers(0, 4, 120)})
    ea, eb = rng.normal(0, 2, 5), rng.normal(0, 1, 4)
    frame["delta"] = 1 + ea[frame.a] + eb[frame.b] + rng.normal(0, 1, 120)
    mine = variance.reml(frame["delta"].to_numpy(), {"a": frame.a.to_numpy(), "b": frame.b.to_numpy()})
    model = smf.mixedlm(
        "delta ~ 1",
        frame.assign(g=1),
        groups="g",
        re_formula="0",
        vc_formula={"a": "0 + C(a)", "b": "0 + C(b)"},
    )
    fit = model.fit(reml=True, method="lbfgs")
    theirs = dict(zip(model.exog_vc.names, fit.vcomp, strict=True))
    assert mine["a"] == pytest.approx(theirs["a"], rel=0.02)
    assert mine["b"] == pytest.approx(theirs["b"], rel=0.02)
    assert mine["residual"] == pytest.approx(fit.scale, rel=0.02)


def test_hierarchy_rank_correlation_and_on_off_task_by_hand(tmp_path):
    languages = pd.DataFrame(
        {
            "name": ["A", "B", "C", "D"],
            "family": ["x", "x", "y", "y"],
            "script": ["s"] * 4,
            "resource_class": [5, 4, 3, 1],
        },
        index=pd.Index(["la", "lb", "lc", "ld"], name="iso"),
    )
    recip = {"la": 4.0, "lb": 3.0, "lc": 1.0, "ld": -2.0}  # recipient score falls with class

    def delta(r):
        return recip[r.target_language] if r.source_task == r.target_task else -2.0

    pairs = grid(["m1", "m2"], list(recip), ["T", "U"], delta)
    from transfer_atlas.analysis.transfer_roles import roles

    per_model = roles.group_roles(pairs, SETTINGS)
    corr = hierarchy.correlation_table(per_model, languages, 200, 0).set_index("role")
    assert corr.loc["recipient", "spearman_rho"] == pytest.approx(1.0)
    assert corr.loc["recipient", "n_languages"] == 4
    table = hierarchy.hierarchy_table(per_model, languages, consistency.model_meta(pairs))
    by_class = table[(table.grouping == "resource class") & (table.role == "recipient")].set_index("group")
    assert by_class.loc["5", "score"] == pytest.approx(4.0) and by_class.loc["1", "score"] == pytest.approx(
        -2.0
    )
    onoff = hierarchy.on_off_task(pairs, SETTINGS).set_index(["model", "source"])
    row = onoff.loc[("m1", "T.la")]
    # MT-CL recipients of T.la: T.lb, T.lc, T.ld -> 3, 1, -2; off task: 4 U targets at -2
    assert row["on_task_delta"] == pytest.approx(2 / 3) and row["n_on_task"] == 3
    assert row["off_task_delta"] == pytest.approx(-2.0) and row["off_task_harm_rate"] == 1.0
    assert row["on_task_harm_rate"] == pytest.approx(1 / 3)


def test_run_writes_every_table_and_figure(tmp_path):
    pairs = planted()
    path = tmp_path / "pairs.csv"
    pairs.to_csv(path, index=False)
    langs = tmp_path / "languages.csv"
    pd.DataFrame(
        {
            "iso": [f"l{i}" for i in range(6)],
            "name": list("ABCDEF"),
            "family": list("xxyyzz"),
            "script": ["s"] * 6,
            "resource_class": [5, 5, 4, 3, 2, 1],
            "source": ["test"] * 6,
        }
    ).to_csv(langs, index=False)
    names = ["language_roles", "task_roles", "language_heatmap", "task_heatmap", "consistency"]
    names += ["consistency_summary", "variance", "hierarchy", "hierarchy_correlation", "on_off_task"]
    out = {n: tmp_path / f"{n}.csv" for n in names}
    figs = [
        "roles",
        "language_heatmap",
        "task_heatmap",
        "consistency",
        "variance",
        "hierarchy",
        "on_off_task",
    ]
    out.update({f"{f}_png": tmp_path / f"{f}.png" for f in figs})
    result = across_models.run([str(path)], str(langs), "all_models", SETTINGS, 0, out)
    assert all(out[f"{f}_png"].stat().st_size > 5000 for f in figs)
    assert set(result["language_roles"]["n_models"]) == {4}
    heat = pd.read_csv(out["language_heatmap"], index_col=0)
    assert np.isnan(np.diag(heat.to_numpy(float))).all()
