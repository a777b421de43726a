"""Predict the transfer matrix before paying for it (rule `predict_transfer`).

Cells are Δ vs base in points over transfer pairs only (`analysis.common`: direct and
variant-of-parent cells are left out). Every predictor is named in the outputs; baselines
are `target_mean`, `additive` and `nearest_{similarity}`.

  descriptors    what describes a dataset before training (profile, task, language, style,
                 semantic, base score)
  predictors     baselines, the trait model, matrix completion, cross-model
  validation     leave-one-source-out / -cell-out / -model-out, jackknife intervals, metrics
  next_sources   candidates ranked by predicted gain and by uncertainty reduction
  figures        predicted vs observed
  run()          rule predict_transfer for a model of the workflow; run_external() for the
                 `external_results` table

Outputs (results/analysis/{model}/predict/): validation.csv and predictions.csv (schemas in
`validation`; predictions also hold scheme `candidate` rows: a candidate's predicted row,
observed empty, interval from the leave-one-source-out residuals), next_sources.csv
(`next_sources`), predicted_vs_observed.png.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from transfer_atlas import io
from transfer_atlas.analysis.common import mask_non_transfer
from transfer_atlas.analysis.predict import descriptors as desc
from transfer_atlas.analysis.predict import figures, next_sources, validation
from transfer_atlas.analysis.predict.predictors import predict_rows
from transfer_atlas.analysis.transfer_roles.hierarchy import read_languages

log = logging.getLogger(__name__)


def cosine_similarity(table: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity of z-scored descriptor rows."""
    Z = ((table - table.mean()) / table.std(ddof=0).replace(0, 1)).to_numpy(float)
    norm = np.linalg.norm(Z, axis=1, keepdims=True)
    Z = Z / np.where(norm == 0, 1, norm)
    return pd.DataFrame(Z @ Z.T, index=table.index, columns=table.index)


def validate(
    matrices: dict, model: str, descriptors: pd.DataFrame, similarities: dict, settings: dict, seed: int
):
    """(predictions, validation table) of every scheme that has enough data for `model`
    (`model` = None: every model in `matrices`, as for an external table)."""
    with threadpool_limits(1):  # small matrices: threaded BLAS only adds contention
        return _validate(matrices, model, descriptors, similarities, settings, seed)


def _validate(matrices: dict, model: str, descriptors, similarities: dict, settings: dict, seed: int):
    level, parts = settings["level"], []
    for name in [model] if model else list(matrices):
        matrix = matrices[name]
        if len(matrix) >= 3 and descriptors.shape[1]:
            parts.append(validation.leave_one_source_out(name, matrix, descriptors, similarities, settings))
        rest = [m.reindex_like(matrix) for k, m in matrices.items() if k != name]
        others = pd.concat(rest).groupby(level=0).mean().reindex_like(matrix) if rest else None
        if matrix.notna().sum().sum() >= 4:
            parts.append(validation.leave_one_cell_out(name, matrix, similarities, settings, others, seed))
    if len(matrices) >= 2:
        lomo = validation.leave_one_model_out(matrices)
        parts.append(lomo if model is None else lomo[lomo.model == model])
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=validation.PREDICTION_COLUMNS), pd.DataFrame(
            columns=validation.METRIC_COLUMNS
        )
    predictions = validation.add_intervals(pd.concat(parts, ignore_index=True), level)
    table = validation.metrics(predictions, settings, level, settings["bootstrap"], seed)
    return predictions, table


def candidate_rows(
    matrix, descriptors, candidates, similarities, predictions, settings, model
) -> pd.DataFrame:
    """Scheme `candidate`: each candidate's predicted row per predictor, interval = the
    predictor's leave-one-source-out conformal quantile."""
    if not candidates or descriptors.shape[1] == 0 or len(matrix) < 2:
        return pd.DataFrame(columns=validation.PREDICTION_COLUMNS)
    rows = predict_rows(matrix, descriptors.loc[matrix.index], descriptors.loc[candidates], similarities,
                        settings["n_components"])  # fmt: skip
    loso = predictions[predictions.scheme == validation.LOSO]
    parts = []
    for name, frame in rows.items():
        r = loso[loso.predictor == name]
        q = validation.conformal_quantile((r.observed - r.predicted).to_numpy(float), settings["level"])
        long = frame.rename_axis(index="source", columns="target").stack().rename("predicted").reset_index()
        parts.append(long.assign(model=model, scheme="candidate", predictor=name, fold="candidate",
                                 observed=np.nan, low=long.predicted - q, high=long.predicted + q))  # fmt: skip
    out = pd.concat(parts, ignore_index=True)
    out["baseline"] = out.predictor.map(validation.is_baseline)
    return out[validation.PREDICTION_COLUMNS]


def write(
    out: dict, predictions: pd.DataFrame, table: pd.DataFrame, ranked: pd.DataFrame, title: str
) -> None:
    io.write_csv(out["validation"], table.round(6))
    io.write_csv(out["predictions"], predictions.round(6))
    io.write_csv(out["next_sources"], ranked.round(6))
    io.save_figure(out["figure"], figures.predicted_vs_observed(predictions, table, title))


def run(inputs: dict, model: str, datasets: dict, settings: dict, seed: int, out: dict) -> pd.DataFrame:
    """Rule predict_transfer for one model of the workflow.

    inputs: delta (this model's delta.csv), deltas ({model: delta.csv} of every model),
    matrix (matrix.csv, base scores), profiles ({dataset: profile.json}), style, semantic
    (similarity CSVs), languages (resources/languages.csv, optional). datasets: {name: {type, language, root}} of sources and candidates.
    settings: analysis.predict + positive_threshold."""
    roots = {d: v["root"] for d, v in datasets.items()}
    matrices = {m: mask_non_transfer(pd.read_csv(p, index_col="adapter").drop(index="base", errors="ignore"), roots)
                for m, p in inputs["deltas"].items()}  # fmt: skip
    matrix = matrices[model]
    candidates = list(settings["candidates"])
    base = pd.read_csv(inputs["matrix"], index_col="adapter").loc["base"] if inputs.get("matrix") else None
    languages = read_languages(inputs["languages"]) if inputs.get("languages") else None
    descriptors = desc.descriptor_table(
        list(matrix.index) + candidates, settings["descriptors"], model, inputs.get("profiles"), datasets,
        inputs.get("style"), inputs.get("semantic"), base, languages,
    )  # fmt: skip
    similarities = {"descriptors": cosine_similarity(descriptors)} if descriptors.shape[1] else {}
    for name in ("style", "semantic"):
        if inputs.get(name):
            similarities[name] = pd.read_csv(inputs[name], index_col=0)
    predictions, table = validate(matrices, model, descriptors, similarities, settings, seed)
    cand = candidate_rows(matrix, descriptors, candidates, similarities, predictions, settings, model)
    targets = settings["targets"] or list(matrix.columns)
    loso = predictions[(predictions.scheme == validation.LOSO) & (predictions.predictor == "trait")]
    ranked = next_sources.rank(matrix, descriptors, candidates, targets, loso, settings["n_components"],
                               settings["level"])  # fmt: skip
    write(out, pd.concat([p for p in (predictions, cand) if not p.empty], ignore_index=True) if len(cand) else predictions, table, ranked,
          f"{model}: predicted vs observed Δ (held-out, {settings['level']:.0%} intervals)")  # fmt: skip
    log.info("validation:\n%s", table.round(3).to_string())
    return table


def external_matrices(pairs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{model: sources x targets Δ (points)} of the transfer pairs of an external pairs table."""
    keep = pairs[pairs.kind == "transfer"]
    return {
        m: g.pivot(index="source", columns="target", values="delta")
        for m, g in keep.groupby("model", sort=False)
    }


def run_external(
    table_path: str,
    settings: dict,
    roles_settings: dict,
    seed: int,
    out: dict,
    languages_csv: str | None = None,
) -> pd.DataFrame:
    """predict_transfer on `external_results`: every model of the table; descriptors = the
    source's task and language (one-hot, plus resources/languages.csv metadata); no candidates."""
    from transfer_atlas.analysis.transfer_roles.external import external_pairs

    pairs = external_pairs(table_path, roles_settings)
    matrices = external_matrices(pairs)
    names = pairs.drop_duplicates("source").set_index("source")
    roles = {s: {"type": r.source_task, "language": r.source_language} for s, r in names.iterrows()}
    sources = sorted(set().union(*(m.index for m in matrices.values())))
    languages = read_languages(languages_csv) if languages_csv else None
    descriptors = desc.descriptor_table(
        sources, ["task", "language"], "external", roles=roles, languages=languages
    )
    similarities = {"descriptors": cosine_similarity(descriptors)}
    predictions, table = validate(matrices, None, descriptors, similarities, settings, seed)
    write(out, predictions, table, pd.DataFrame(columns=next_sources.COLUMNS),
          f"external: predicted vs observed Δ (held-out, {settings['level']:.0%} intervals)")  # fmt: skip
    return table


def summary_lines(validation_csv: str, what: str = "") -> list[str]:
    """Markdown lines for summary.md: per scheme, the best predictor vs the best baseline (MAE)."""
    table = pd.read_csv(validation_csv)
    lines = [
        f"### Transfer prediction{' of ' + what if what else ''} (held-out MAE in points; lower is better)",
        "",
    ]
    if table.empty:
        return lines + ["- not run: too few sources, cells or models to hold one out", ""]
    pooled = table.groupby(["scheme", "predictor", "baseline"], sort=False).apply(
        lambda g: np.average(g.mae, weights=g.n_cells), include_groups=False
    )
    for scheme, sub in pooled.rename("mae").reset_index().groupby("scheme", sort=False):
        base, pred = sub[sub.baseline].nsmallest(1, "mae"), sub[~sub.baseline].nsmallest(1, "mae")
        if base.empty or pred.empty:
            continue
        b, p = base.iloc[0], pred.iloc[0]
        if p.mae < b.mae:
            lines.append(f"- {scheme}: best predictor **{p.predictor}** (MAE {p.mae:.2f}) beats the best baseline "
                         f"{b.predictor} (MAE {b.mae:.2f}) by {b.mae - p.mae:.2f} points")  # fmt: skip
        else:
            lines.append(f"- {scheme}: no predictor beats the baselines: best baseline {b.predictor} (MAE "
                         f"{b.mae:.2f}), best predictor {p.predictor} (MAE {p.mae:.2f})")  # fmt: skip
    return lines + [""]
