"""Transfer prediction on generated tables: the numbers quoted for issue 17.

  release   a Donors-and-Recipients-shaped release table (4 tasks x 11 languages, 3 models):
            Δ = model offset + target-language effect + same-task bonus + source-language
            effect + N(0, 1) points, read by `run_external` exactly like the real table
  small     the trait suite's size (6 sources x 6 targets) from 4 descriptors through a known
            map + N(0, 1): what 6 sources allow
  large     the same map with 40 sources (what the trait model does with enough rows)

    PYTHONPATH=src python perf/predict_generated.py [outdir]
writes {outdir}/{release,small,large}_validation.csv and prints the tables.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_atlas.analysis import predict
from transfer_atlas.analysis.predict import validation

TASKS = ["arc", "mmlu", "hellaswag", "truthfulqa"]
LANGS = ["ar", "bn", "de", "en", "es", "fr", "hi", "id", "it", "pt", "zh"]
SETTINGS = {"n_components": 8, "rank": 2, "shrinkage": 1.0, "max_cells": 200, "level": 0.9,
            "bootstrap": 1000, "positive_threshold": 0.0}  # fmt: skip


def release(path: Path, models=("m-a", "m-b", "m-c"), seed=0) -> None:
    rng = np.random.default_rng(seed)
    target_lang = dict(zip(LANGS, rng.normal(scale=3, size=len(LANGS)), strict=True))
    source_lang = dict(zip(LANGS, rng.normal(scale=1, size=len(LANGS)), strict=True))
    rows = []
    for k, model in enumerate(models):
        for ft in TASKS:
            for fl in LANGS:
                for et in TASKS:
                    for el in LANGS:
                        delta = 0.5 * k + target_lang[el] + source_lang[fl] + 4.0 * (ft == et) + rng.normal()
                        rows.append({"model_name": model, "fine_tuned_dataset": ft, "fine_tuned_language": fl,
                                     "eval_dataset": et, "eval_language": el, "score_base_mean": 40.0,
                                     "score_mean": 40.0 + delta})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)


def planted(n: int, seed=0, d=4, targets=6):
    rng = np.random.default_rng(seed)
    W = rng.normal(scale=4.0, size=(d, targets))
    X = rng.normal(size=(n, d))
    names = [f"s{i}" for i in range(n)]
    Y = pd.DataFrame(
        X @ W + rng.normal(size=(n, targets)), index=names, columns=[f"t{j}" for j in range(targets)]
    )
    return Y, pd.DataFrame(X, index=names, columns=[f"x{k}" for k in range(d)])


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    show = ["model", "scheme", "predictor", "n_cells", "mae", "mae_ci_low", "mae_ci_high", "spearman_row",
            "sign_accuracy", "coverage", "interval_width"]  # fmt: skip
    t0 = time.time()
    release(outdir / "release.csv")
    out = {k: str(outdir / f"release_{k}.csv") for k in ("validation", "predictions", "next_sources")}
    out["figure"] = str(outdir / "release_predicted_vs_observed.png")
    roles = {"external_metric": "acc", "external_scale": "points", "external_filter": {}}
    table = predict.run_external(str(outdir / "release.csv"), SETTINGS, roles, 0, out)
    print(f"release ({time.time() - t0:.0f} s)\n", table[show].round(2).to_string(index=False))
    for name, n in (("small", 6), ("large", 40)):
        Y, X = planted(n)
        sims = {"descriptors": predict.cosine_similarity(X)}
        preds = validation.leave_one_source_out(name, Y, X, sims, SETTINGS)
        preds = pd.concat([preds, validation.leave_one_cell_out(name, Y, sims, SETTINGS)], ignore_index=True)
        table = validation.metrics(validation.add_intervals(preds, 0.9), SETTINGS, 0.9, 1000, 0)
        table.round(4).to_csv(outdir / f"{name}_validation.csv", index=False)
        print(f"{name} ({n} sources x 6 targets, noise sd 1 -> noise MAE 0.80)\n",
              table[show].round(2).to_string(index=False))  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "perf/results/predict-generated"))
