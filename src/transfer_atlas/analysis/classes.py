"""Class-distribution transfer on classification targets.

Per target: confusion matrices of the base model and every adapter (counts, mean over
seeds; rows = gold label, columns = predicted label), the predicted-label distribution
vs the gold distribution, and the source datasets' training label distributions beside
them. Distributions are fractions; total variation distance (TVD, in [0, 1]) compares
two distributions over the union of their labels. Also: label-wise prompt lengths (words)
of every classification dataset.

From *generated* labels (targets that report acc_generated: the label parsed from a greedy
answer, `pred_generated` in the predictions; `[invalid]` when no label word occurs), rule
`class_generated` writes, per target (mean counts over seeds):
  classes/confusion_generated.csv     target, adapter, gold, predicted (labels + [invalid]), count
  classes/distribution_generated.csv  target, adapter, kind (gold | generated), label, fraction
                                      (the [invalid] fraction included)
and per target a confusion grid and a distribution figure with an [invalid] column.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transfer_atlas import io
from transfer_atlas.analysis import inputs
from transfer_atlas.plots import density, grid
from transfer_atlas.tasks.textmatch import INVALID

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
    groups = group_scores(score_paths)
    source_dists = {
        s: distribution(io.read_json(p)["splits"]["train"]["label_distribution"])
        for s, p in profile_paths.items()
    }
    delta = pd.read_csv(delta_csv, index_col="adapter")
    parts: dict[str, list[pd.DataFrame]] = {"confusion": [], "distribution": [], "shift": []}
    for i, target in enumerate(targets):
        conf, dist, shift = tables(groups[target], source_dists, delta[target])
        io.save_figure(out["confusion_figures"][i], confusion_grid(conf, groups[target], model, target))
        io.save_figure(out["distribution_figures"][i], label_distributions(dist, shift, model, target))
        for name, frame in zip(parts, (conf, dist, shift), strict=True):
            parts[name].append(frame.assign(target=target))
    for name, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True)
        io.write_csv(out[name], frame[["target", *frame.columns.drop("target")]].round(6))
    return pd.concat(parts["shift"], ignore_index=True)


def generated_confusion(paths: list[str], labels: list[str]) -> pd.DataFrame:
    """Gold x generated-label counts of one adapter, mean over its seeds' predictions files;
    columns = labels + [invalid] (any other parsed value counts as invalid)."""
    columns = [*labels, INVALID]
    mats = []
    for path in paths:
        frame = inputs.read_predictions(path, ("id", "gold", "pred_generated"))
        pred = frame["pred_generated"].astype(str).where(frame["pred_generated"].isin(labels), INVALID)
        counts = pd.crosstab(frame["gold"].astype(str), pred).reindex(
            index=labels, columns=columns, fill_value=0
        )
        mats.append(counts.to_numpy(dtype=float))
    return pd.DataFrame(
        np.mean(mats, axis=0),
        index=pd.Index(labels, name="gold"),
        columns=pd.Index(columns, name="predicted"),
    )


def generated_tables(paths: dict[str, list[str]], labels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(confusion long table, distribution long table) of one target; `paths`: {adapter: files}."""
    conf, dist = [], []
    for adapter, files in paths.items():
        cm = generated_confusion(files, labels)
        conf.append(cm.stack().rename("count").reset_index().assign(adapter=adapter))
        if not dist:
            gold = distribution(cm.sum(axis=1).to_dict(), labels)
            dist.append(
                pd.DataFrame(
                    {"adapter": "gold", "kind": "gold", "label": gold.index, "fraction": gold.values}
                )
            )
        pred = distribution(cm.sum(axis=0).to_dict(), [*labels, INVALID])
        dist.append(
            pd.DataFrame(
                {"adapter": adapter, "kind": "generated", "label": pred.index, "fraction": pred.values}
            )
        )
    conf = pd.concat(conf, ignore_index=True)[["adapter", "gold", "predicted", "count"]]
    return conf, pd.concat(dist, ignore_index=True)


def run_generated(prediction_paths: list[str], labels: dict[str, list[str]], model: str, out: dict):
    """Confusion matrices and label distributions from generated labels of every target in
    `labels` ({target: label set}); figures in `labels` order (see the module docstring)."""
    grouped = inputs.group_by_target(prediction_paths)
    parts: dict[str, list[pd.DataFrame]] = {"confusion": [], "distribution": []}
    for i, (target, label_set) in enumerate(labels.items()):
        by_source: dict[str, list[str]] = {}
        for adapter, path in grouped[target].items():
            by_source.setdefault(inputs.source_of(adapter), []).append(path)
        conf, dist = generated_tables(by_source, list(label_set))
        title = f"{model} on {target}: labels parsed from generated answers"
        io.save_figure(out["confusion_figures"][i], confusion_grid(conf, by_source, model, target, title))
        io.save_figure(out["distribution_figures"][i], generated_distributions(dist, title))
        parts["confusion"].append(conf.assign(target=target))
        parts["distribution"].append(dist.assign(target=target))
    for name, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True)
        io.write_csv(out[name], frame[["target", *frame.columns.drop("target")]].round(6))
    return pd.concat(parts["distribution"], ignore_index=True)


def run_input_lengths(train_paths: list[str], datasets: list[str], out: dict) -> pd.DataFrame:
    """Prompt length (words) by gold label of every classification dataset's training split."""
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
    io.save_figure(out["figure"], input_length_kdes(lengths, datasets))
    return summary


# --- figures -----------------------------------------------------------------------------------


def confusion_grid(conf: pd.DataFrame, groups: dict, model: str, target: str, title: str | None = None):
    """One annotated confusion matrix (counts, mean over seeds) per adapter, base first;
    `groups[adapter]` holds one item per seed. Predicted columns may add `[invalid]`."""
    adapters = list(dict.fromkeys(conf["adapter"]))
    labels = list(dict.fromkeys(conf["gold"]))
    columns = list(dict.fromkeys(conf["predicted"]))
    size = 0.55 * len(labels) + 1.9
    fig, axes = grid(len(adapters), 4, width=size + 0.4 + 0.55 * (len(columns) - len(labels)), height=size)
    vmax = conf["count"].max()
    for ax, adapter in zip(axes, adapters, strict=True):
        cm = conf[conf.adapter == adapter].pivot(index="gold", columns="predicted", values="count")
        cm = cm.reindex(index=labels, columns=columns)
        seeds = len(groups[adapter])
        sns.heatmap(
            cm,
            annot=True,
            fmt=".0f" if seeds == 1 else ".1f",
            cmap="Blues",
            vmin=0,
            vmax=vmax,
            cbar=False,
            ax=ax,
            linewidths=0.5,
            annot_kws={"size": 8},
        )
        acc = 100 * np.trace(cm.to_numpy()) / max(cm.to_numpy().sum(), 1)
        ax.set_title(f"{adapter}\naccuracy {acc:.1f} points", fontsize=9)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("gold label")
    fig.suptitle(title or f"{model} on {target}: confusion matrices (counts of examples)")
    fig.tight_layout()
    return fig


def generated_distributions(dist: pd.DataFrame, title: str):
    """Stacked bars: gold labels, then each adapter's generated labels with the [invalid] share."""
    labels = list(dict.fromkeys(dist["label"]))
    colors = dict(zip(labels, sns.color_palette("Set2", len(labels)), strict=True)) | {INVALID: "0.55"}
    frame = dist.pivot_table(index="adapter", columns="label", values="fraction", sort=False)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(frame) + 2.2))
    _stacked(ax, frame[[c for c in labels if c in frame.columns]], colors, title)
    ax.legend(fontsize=8, title="label", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def _stacked(ax, frame: pd.DataFrame, colors: dict, title: str) -> None:
    """Horizontal stacked bars: rows of `frame` = bars, columns = labels (fractions)."""
    left = np.zeros(len(frame))
    for label in frame.columns:
        vals = frame[label].fillna(0).to_numpy()
        ax.barh(np.arange(len(frame)), vals, left=left, color=colors[label], label=label, edgecolor="white")
        for k, (x, v) in enumerate(zip(left, vals, strict=True)):
            if v >= 0.08:
                ax.text(x + v / 2, k, f"{100 * v:.0f}%", ha="center", va="center", fontsize=7)
        left += vals
    ax.set_yticks(np.arange(len(frame)), frame.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of examples")
    ax.set_title(title, fontsize=10)


def label_distributions(dist: pd.DataFrame, shift: pd.DataFrame, model: str, target: str):
    """Left: gold and predicted label distributions; right: each source's training labels."""
    labels = list(dict.fromkeys(dist["label"]))
    colors = dict(zip(labels, sns.color_palette("Set2", len(labels)), strict=True))
    pred = dist[dist.kind.isin(["gold", "predicted"])].pivot_table(
        index="adapter", columns="label", values="fraction", sort=False
    )
    tv = shift.set_index("adapter")["tvd_pred_gold"]
    pred.index = [a if a == "gold" else f"{a} (TVD {tv[a]:.2f})" for a in pred.index]
    src = dist[dist.kind == "source_train"].pivot_table(
        index="adapter", columns="label", values="fraction", sort=False
    )
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(pred) + 2.2), squeeze=False)
    _stacked(
        axes[0, 0],
        pred[[c for c in labels if c in pred.columns]],
        colors,
        f"on {target}: gold and predicted labels (TVD to gold)",
    )
    if src.empty:
        axes[0, 1].axis("off")
        axes[0, 1].text(0.5, 0.5, "no classification source", ha="center", va="center")
    else:
        _stacked(
            axes[0, 1],
            src[[c for c in labels if c in src.columns]],
            colors,
            "training labels of each classification source",
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[lab]) for lab in labels]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, title="label")
    fig.suptitle(f"{model}: class-distribution transfer on {target}")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def input_length_kdes(lengths: pd.DataFrame, datasets: list[str]):
    """Per classification dataset: KDE of prompt length (words) for each gold label."""
    labels = list(dict.fromkeys(lengths["label"]))
    colors = dict(
        zip(labels, sns.color_palette("Set2", len(labels)), strict=True)
    )  # one color per label everywhere
    fig, axes = grid(len(datasets), 3, width=4.2, height=3.2)
    for ax, dataset in zip(axes, datasets, strict=True):
        sub = lengths[lengths.dataset == dataset]
        for label, group in sub.groupby("label", sort=True):
            density(ax, group["words"], f"{label} (n={len(group)})", color=colors[label])
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("prompt length (words)")
        ax.set_ylabel("density")
        ax.legend(fontsize=7, title="gold label", title_fontsize=7)
    fig.suptitle("Label-wise prompt lengths of the classification datasets (training split)")
    fig.tight_layout()
    return fig
