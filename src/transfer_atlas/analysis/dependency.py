"""Dependency relations: where in a generation target does an adapter gain or lose?

For every spaCy dependency relation present in at least `min_count` of the target's
prompts: success ratio = (adapter accuracy on the prompts containing it) / (base accuracy
on them). Accuracies are fractions of correct examples (adapter: mean over its seeds);
the ratio is NaN where the base model solves none of them. The 95% interval is a
percentile bootstrap over those prompts (paired: the same resample for adapter and base).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis import inputs
from transfer_atlas.analysis.common import percentile_interval
from transfer_atlas.plots import empty, grid

log = logging.getLogger(__name__)
COLUMNS = [
    "relation",
    "n_prompts",
    "base_accuracy",
    "adapter_accuracy",
    "delta_points",
    "success_ratio",
    "ci_low",
    "ci_high",
]


def presence(parse_rows: list[dict], ids: list[str] | None = None) -> pd.DataFrame:
    """Prompts x relations, True where the prompt's parse contains the relation.

    Rows follow `ids` (default: the parse order); columns sorted by name.
    """
    sets = {row["id"]: {tok[2] for sent in row["sents"] for tok in sent} for row in parse_rows}
    ids = list(sets) if ids is None else list(ids)
    missing = [i for i in ids if i not in sets]
    if missing:
        raise io.DataError(f"parse cache lacks {len(missing)} prompt(s), e.g. id '{missing[0]}'")
    relations = sorted(set().union(*(sets[i] for i in ids)) - {""}) if ids else []
    return pd.DataFrame({r: [r in sets[i] for i in ids] for r in relations}, index=pd.Index(ids, name="id"))


def _ratio(adapter: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, adapter / np.where(base > 0, base, 1.0), np.nan)


def success_ratios(
    has: pd.DataFrame,
    base: pd.Series,
    adapter: pd.Series,
    min_count: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per relation present in >= min_count prompts (see module docstring).

    `base` and `adapter` are per-prompt correctness in [0, 1] indexed like `has`; accuracies
    in the result are fractions, delta_points = 100 * (adapter - base accuracy).
    """
    rng = np.random.default_rng(seed)
    b_all, a_all = base.reindex(has.index).to_numpy(float), adapter.reindex(has.index).to_numpy(float)
    rows = []
    for relation in has.columns:
        mask = has[relation].to_numpy()
        m = int(mask.sum())
        if m < min_count:
            continue
        b, a = b_all[mask], a_all[mask]
        row = {"relation": relation, "n_prompts": m, "base_accuracy": b.mean(), "adapter_accuracy": a.mean()}
        row["delta_points"] = 100 * (row["adapter_accuracy"] - row["base_accuracy"])
        row["success_ratio"] = float(_ratio(np.array(a.mean()), np.array(b.mean())))
        row["ci_low"] = row["ci_high"] = np.nan
        if n_boot:
            weights = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot) / m
            boot = _ratio(weights @ a, weights @ b)
            if np.isfinite(boot).any():
                row["ci_low"], row["ci_high"] = percentile_interval(boot)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def target_table(parse_rows: list[dict], paths: dict[str, str], settings: dict) -> pd.DataFrame:
    """Success ratios of every adapter (source) on one target; `paths` maps adapter -> predictions."""
    table = inputs.correctness_table(paths)
    has = presence(parse_rows, list(table.index))
    frames = []
    for source in dict.fromkeys(inputs.source_of(c) for c in table.columns if c != "base"):
        seeds = [c for c in table.columns if c != "base" and inputs.source_of(c) == source]
        ratios = success_ratios(
            has,
            table["base"],
            table[seeds].mean(axis=1),
            settings["min_count"],
            settings["bootstrap"],
            settings["seed"],
        )
        frames.append(ratios.assign(source=source, n_seeds=len(seeds)))
    return pd.concat(frames, ignore_index=True)


def run(
    parse_paths: dict[str, str], prediction_paths: list[str], settings: dict, model: str, out: dict
) -> pd.DataFrame:
    """Success ratios on every target of `parse_paths` (target -> parse cache of its eval prompts).

    Writes one long table (out["table"]) and one bar chart per target (out["figures"], same order).
    """
    by_target = inputs.group_by_target(prediction_paths)
    frames = []
    for (target, parse_path), figure_path in zip(parse_paths.items(), out["figures"], strict=True):
        result = target_table(inputs.read_parse(parse_path), by_target[target], settings)
        io.save_figure(figure_path, success_ratio_figure(result, settings["top"], model, target))
        frames.append(result.assign(target=target))
        log.info("%s: %d relations", target, result.relation.nunique())
    table = pd.concat(frames, ignore_index=True).assign(model=model)
    table = table[["model", "target", "source", "n_seeds", *COLUMNS]]
    io.write_csv(out["table"], table.round(6))
    return table


# --- figures -----------------------------------------------------------------------------------


def success_ratio_figure(table: pd.DataFrame, top: int, model: str, target: str):
    """Per adapter, the `top` relations with the highest success ratio (bootstrap 95% interval).

    Relations found in every prompt are left out (their ratio is the overall one, drawn as a
    dotted line); ratios are written at the bar ends.
    """
    title = f"{model} on {target}: success ratio per dependency relation"
    if table.empty:
        return empty(title, "no relation reached the minimum prompt count (analysis.dependency.min_count)")
    table = table.assign(
        **{
            c: pd.to_numeric(table[c], errors="coerce")
            for c in ("success_ratio", "ci_low", "ci_high", "n_prompts")
        }
    )
    sources = list(dict.fromkeys(table["source"]))
    n_all = table["n_prompts"].max()
    informative = table[(table.n_prompts < n_all) & table.success_ratio.notna()]
    rows_shown = max(1, min(top, informative.groupby("source").size().max() if len(informative) else 1))
    fig, axes = grid(len(sources), 3, width=4.6, height=0.34 * rows_shown + 1.7)
    finite = table.success_ratio[np.isfinite(table.success_ratio)]
    xmax = max(2.0, 1.25 * finite.max()) if len(finite) else 2.0
    for ax, source in zip(axes, sources, strict=True):
        rows = table[table.source == source]
        overall = rows[rows.n_prompts == n_all].success_ratio
        sub = rows[(rows.n_prompts < n_all) & rows.success_ratio.notna()]
        sub = sub.sort_values(["success_ratio", "n_prompts"], ascending=[False, True]).head(top)
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        if len(overall) and np.isfinite(overall.iloc[0]):
            ax.axvline(
                overall.iloc[0], color="black", lw=0.8, ls=":", label=f"all prompts: {overall.iloc[0]:.2f}"
            )
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"{source} adapter", fontsize=10)
        ax.set_xlabel("success ratio (adapter / base accuracy)")
        ax.set_xlim(0, xmax)
        if sub.empty:
            ax.text(
                0.5,
                0.5,
                "no relation with a defined ratio\n(base accuracy 0, or every relation\nin every prompt)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
            )
            ax.set_yticks([])
            continue
        y = np.arange(len(sub))
        ratio = sub["success_ratio"].to_numpy()
        ax.barh(y, ratio, color=np.select([ratio > 1, ratio < 1], ["#55A868", "#C44E52"], "#8C8C8C"))
        err = np.vstack([sub.success_ratio - sub.ci_low, sub.ci_high - sub.success_ratio])
        ax.errorbar(
            sub["success_ratio"],
            y,
            xerr=np.nan_to_num(err.clip(min=0)),
            fmt="none",
            ecolor="black",
            capsize=2,
            lw=0.8,
        )
        for yi, v in zip(y, sub["success_ratio"], strict=True):
            ax.text(min(v, xmax) + 0.02 * xmax, yi - 0.2, f"{v:.2f}", fontsize=7)
        ax.set_yticks(y, [f"{r.relation} (n={r.n_prompts})" for r in sub.itertuples()], fontsize=8)
        ax.set_ylim(rows_shown - 0.5, -0.5)  # same bar thickness in every panel, first on top
    fig.suptitle(f"{title} of the prompts (top {top}, {n_all} prompts)")
    fig.tight_layout()
    return fig
