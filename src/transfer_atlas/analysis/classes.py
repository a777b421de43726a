"""Class-distribution transfer on classification targets.

Per target: confusion matrices of the base model and every adapter (counts, mean over
seeds; rows = gold label, columns = predicted label), the predicted-label distribution
vs the gold distribution, and the source datasets' training label distributions beside
them. Distributions are fractions; total variation distance (TVD, in [0, 1]) compares
two distributions over the union of their labels. Also: label-wise prompt lengths (words)
of every classification dataset.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from transfer_atlas import io

log = logging.getLogger(__name__)


def distribution(counts: dict[str, float], labels: list[str] | None = None) -> pd.Series:
    """Fractions per label, in `labels` order (then any other label); all 0 if no counts."""
    order = list(labels or []) + [k for k in counts if k not in (labels or [])]
    series = pd.Series({k: float(counts.get(k, 0)) for k in order}, dtype=float)
    total = series.sum()
    return series / total if total > 0 else series


def label_counts(values) -> dict[str, int]:
    return pd.Series([str(v) for v in values]).value_counts(sort=False).to_dict()


def tvd(p: pd.Series, q: pd.Series) -> float:
    """Total variation distance 0.5 * sum |p - q| over the union of labels."""
    labels = list(dict.fromkeys([*p.index, *q.index]))
    return 0.5 * float(np.abs(p.reindex(labels, fill_value=0) - q.reindex(labels, fill_value=0)).sum())


def mean_confusion(scores: list[dict]) -> pd.DataFrame:
    """Gold x predicted counts averaged over the given score files (seeds of one adapter)."""
    labels = scores[0]["labels"]
    mats = [np.asarray(s["confusion_matrix"], dtype=float) for s in scores]
    return pd.DataFrame(
        np.mean(mats, axis=0), index=pd.Index(labels, name="gold"), columns=pd.Index(labels, name="predicted")
    )


def group_scores(score_paths: list[str]) -> dict[str, dict[str, list[dict]]]:
    """{target: {base|source: [score file bodies]}} in the given order (classification scores only)."""
    groups: dict[str, dict[str, list[dict]]] = {}
    for path in score_paths:
        score = io.read_json(path)
        for key in ("target", "adapter", "labels", "confusion_matrix", "gold_distribution"):
            if key not in score:
                raise io.DataError(f"{path}: missing field '{key}' (not a classification score?)")
        groups.setdefault(score["target"], {}).setdefault(score["adapter"], []).append(score)
    return groups


def tables(groups: dict[str, list[dict]], source_dists: dict[str, pd.Series], delta: pd.Series):
    """(confusion long table, distribution long table, shift table per adapter)."""
    labels = groups["base"][0]["labels"]
    gold = distribution(groups["base"][0]["gold_distribution"], labels)
    conf, dist, shift = (
        [],
        [pd.DataFrame({"adapter": "gold", "kind": "gold", "label": gold.index, "fraction": gold.to_numpy()})],
        [],
    )
    for adapter, scores in groups.items():
        cm = mean_confusion(scores)
        conf.append(cm.stack().rename("count").reset_index().assign(adapter=adapter))
        pred = distribution(cm.sum(axis=0).to_dict(), labels)
        dist.append(
            pd.DataFrame(
                {"adapter": adapter, "kind": "predicted", "label": pred.index, "fraction": pred.to_numpy()}
            )
        )
        row = {
            "adapter": adapter,
            "tvd_pred_gold": tvd(pred, gold),
            "tvd_pred_source": np.nan,
            "tvd_source_gold": np.nan,
            "delta": 0.0 if adapter == "base" else float(delta.get(adapter, np.nan)),
        }
        if adapter in source_dists:
            src = source_dists[adapter]
            dist.append(
                pd.DataFrame(
                    {
                        "adapter": adapter,
                        "kind": "source_train",
                        "label": src.index,
                        "fraction": src.to_numpy(),
                    }
                )
            )
            row.update(tvd_pred_source=tvd(pred, src), tvd_source_gold=tvd(src, gold))
        shift.append(row)
    conf = pd.concat(conf, ignore_index=True)[["adapter", "gold", "predicted", "count"]]
    return conf, pd.concat(dist, ignore_index=True), pd.DataFrame(shift)


def run(
    score_paths: list[str],
    profile_paths: dict[str, str],
    delta_csv: str,
    model: str,
    targets: list[str],
    out: dict,
) -> pd.DataFrame:
    """Confusion matrices and label distributions of every classification target.

    Writes long tables (out["confusion"], out["distribution"], out["shift"], with a target
    column) and per target a confusion grid and a distribution figure (out["confusion_figures"],
    out["distribution_figures"], in `targets` order).
    """
    from transfer_atlas.analysis import figures

    groups = group_scores(score_paths)
    source_dists = {
        s: distribution(io.read_json(p)["splits"]["train"]["label_distribution"])
        for s, p in profile_paths.items()
    }
    delta = pd.read_csv(delta_csv, index_col="adapter")
    parts: dict[str, list[pd.DataFrame]] = {"confusion": [], "distribution": [], "shift": []}
    for i, target in enumerate(targets):
        conf, dist, shift = tables(groups[target], source_dists, delta[target])
        io.save_figure(
            out["confusion_figures"][i], figures.confusion_grid(conf, groups[target], model, target)
        )
        io.save_figure(
            out["distribution_figures"][i], figures.label_distributions(dist, shift, model, target)
        )
        for name, frame in zip(parts, (conf, dist, shift), strict=True):
            parts[name].append(frame.assign(target=target))
    for name, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True)
        io.write_csv(out[name], frame[["target", *frame.columns.drop("target")]].round(6))
    return pd.concat(parts["shift"], ignore_index=True)


def run_input_lengths(train_paths: list[str], datasets: list[str], out: dict) -> pd.DataFrame:
    """Prompt length (words) by gold label of every classification dataset's training split."""
    from transfer_atlas.analysis import figures
    from transfer_atlas.analysis.length import word_counts

    frames = []
    for dataset, path in zip(datasets, train_paths, strict=True):
        records = io.read_jsonl(path, ("prompt", "label"))
        frames.append(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "label": [r["label"] for r in records],
                    "words": word_counts(r["prompt"] for r in records),
                }
            )
        )
    lengths = pd.concat(frames, ignore_index=True)
    summary = (
        lengths.groupby(["dataset", "label"], sort=False)["words"]
        .agg(n="size", mean_words="mean", median_words="median", std_words="std")
        .reset_index()
    )
    io.write_csv(out["table"], summary.round(4))
    io.save_figure(out["figure"], figures.input_length_kdes(lengths, datasets))
    return summary
