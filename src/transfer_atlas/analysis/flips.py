"""Looking inside a cell: the examples whose correctness an adapter flipped against the base.

For every (adapter, target) cell, an example is a *gain* when the base model got it wrong
and the adapter right, a *loss* the other way round. Correct means the predictions row's
`correct` field is true (for free-text targets scored by ROUGE-L, whose `correct` is an F1
fraction, correct means F1 >= CORRECT_AT).

results/analysis/{model}/flips/examples.csv, one row per flipped example:
  model, adapter (`{source}/seed{seed}`), source, seed, target, id, direction (gain | loss),
  gold, base_output, adapter_output (the `output` field: generated text, picked choice or
  parsed label), base_generated, adapter_generated (the generated text when the target also
  generated one, e.g. metric acc_generated; else empty), base_tokens, adapter_tokens
  (output length in tokens: generated tokens when the target generated, else the output's),
  prompt
results/matrix/{model}/flips.csv, one row per (adapter, target) cell:
  model, adapter, source, seed, target, n (examples), gains, losses, net (gains - losses),
  net_points (100 * net / n: equals the cell's Δ in points for 0/1 metrics), both_correct,
  both_wrong
results/matrix/{model}/flips.png: gains, losses and net per cell (heatmaps).
results/analysis/{model}/flips/flips.html: a self-contained page with a cell picker and the
  first `n_show` examples of each direction (texts cut at `max_chars` characters).
"""

from __future__ import annotations

import html
import logging

import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.inputs import group_by_target, read_predictions, source_of

log = logging.getLogger(__name__)

CORRECT_AT = 0.5  # a fractional `correct` (ROUGE-L F1) counts as correct from this value
EXAMPLE_COLUMNS = [
    "model",
    "adapter",
    "source",
    "seed",
    "target",
    "id",
    "direction",
    "gold",
    "base_output",
    "adapter_output",
    "base_generated",
    "adapter_generated",
    "base_tokens",
    "adapter_tokens",
    "prompt",
]


def is_correct(values: pd.Series) -> pd.Series:
    """Booleans of a `correct` column (bools, 0/1, or fractions thresholded at CORRECT_AT)."""
    return values.astype(float) >= CORRECT_AT


def _side(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Output, generated text and length of one side (base or adapter), columns prefixed."""
    generated = frame["generated"] if "generated" in frame else pd.Series("", index=frame.index)
    if "n_generated_tokens" in frame:
        tokens = frame["n_generated_tokens"]
    elif "n_output_tokens" in frame:
        tokens = frame["n_output_tokens"]
    else:
        tokens = pd.Series(pd.NA, index=frame.index)
    return pd.DataFrame(
        {
            f"{prefix}_output": frame["output"].astype(str),
            f"{prefix}_generated": generated.fillna("").astype(str),
            f"{prefix}_tokens": tokens,
        }
    )


def cell_flips(base: pd.DataFrame, adapter: pd.DataFrame, path: str = "adapter") -> pd.DataFrame:
    """Flipped examples of one cell, in the base file's order.

    `base`, `adapter`: predictions frames indexed by id (`correct`, `output`, `gold`,
    `prompt`). Columns: id, direction, gold, base_/adapter_ output, generated, tokens, prompt."""
    if set(base.index) != set(adapter.index):
        missing = sorted(set(base.index) ^ set(adapter.index), key=str)[:5]
        raise io.DataError(f"{path}: example ids differ from the base model's (e.g. {missing})")
    adapter = adapter.reindex(base.index)
    before, after = is_correct(base["correct"]), is_correct(adapter["correct"])
    direction = pd.Series("", index=base.index)
    direction[~before & after] = "gain"
    direction[before & ~after] = "loss"
    frame = pd.concat(
        [
            pd.DataFrame({"direction": direction, "gold": base["gold"].astype(str)}),
            _side(base, "base"),
            _side(adapter, "adapter"),
            base[["prompt"]],
        ],
        axis=1,
    )
    frame = frame[frame.direction != ""].rename_axis("id").reset_index()
    return frame


def cell_counts(base: pd.DataFrame, adapter: pd.DataFrame) -> dict:
    """n, gains, losses, net, net_points, both_correct, both_wrong of one cell."""
    before = is_correct(base["correct"])
    after = is_correct(adapter["correct"].reindex(base.index))
    gains, losses = int((~before & after).sum()), int((before & ~after).sum())
    n = len(base)
    return {
        "n": n,
        "gains": gains,
        "losses": losses,
        "net": gains - losses,
        "net_points": 100.0 * (gains - losses) / n,
        "both_correct": int((before & after).sum()),
        "both_wrong": int((~before & ~after).sum()),
    }


def _seed(adapter: str) -> int:
    return int(adapter.split("/seed")[1])


def collect(prediction_paths: list[str], model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(examples, counts) tables over every (adapter, target) cell of one model."""
    fields = ("id", "prompt", "gold", "output", "correct")
    examples, counts = [], []
    for target, paths in group_by_target(prediction_paths).items():
        if "base" not in paths:
            raise io.DataError(f"no base-model predictions for target '{target}'")
        base = read_predictions(paths["base"], fields)
        for adapter, path in paths.items():
            if adapter == "base":
                continue
            frame = read_predictions(path, fields)
            key = {"model": model, "adapter": adapter, "source": source_of(adapter), "seed": _seed(adapter)}
            flips = cell_flips(base, frame, path)
            examples.append(flips.assign(**key, target=target))
            counts.append({**key, "target": target, **cell_counts(base, frame)})
            log.info(
                "%s on %s: %d gains, %d losses", adapter, target, counts[-1]["gains"], counts[-1]["losses"]
            )
    table = pd.concat(examples, ignore_index=True) if examples else pd.DataFrame()
    return table.reindex(columns=EXAMPLE_COLUMNS), pd.DataFrame(counts)


def counts_figure(counts: pd.DataFrame, model: str):
    """Gains, losses and net (examples) per cell, three heatmaps side by side."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    adapters, targets = list(dict.fromkeys(counts.adapter)), list(dict.fromkeys(counts.target))
    fig, axes = plt.subplots(
        1, 3, figsize=(3 * max(4.5, 0.7 * len(targets) + 2), max(3.5, 0.5 * len(adapters) + 2))
    )
    for ax, column, cmap in zip(axes, ("gains", "losses", "net"), ("Greens", "Reds", "RdBu_r"), strict=True):
        grid = counts.pivot(index="adapter", columns="target", values=column).reindex(
            index=adapters, columns=targets
        )
        center = 0 if column == "net" else None
        sns.heatmap(grid, annot=grid.size <= 400, fmt="g", cmap=cmap, center=center, ax=ax, linewidths=0.5)
        ax.set_title(f"{column} (examples)")
        ax.set_xlabel("evaluated on (target)")
        ax.set_ylabel("fine-tuned on (adapter)" if column == "gains" else "")
        ax.tick_params(axis="x", rotation=45)
        plt.setp(ax.get_xticklabels(), ha="right")
    fig.suptitle(f"{model}: examples flipped vs the base model (gain: wrong → right; loss: right → wrong)")
    fig.tight_layout()
    return fig


def _cut(text, max_chars: int) -> str:
    text = "" if pd.isna(text) else str(text)
    if len(text) > max_chars:
        text = text[:max_chars] + f" … [{len(text) - max_chars} more characters]"
    return html.escape(text)


def _examples_table(rows: pd.DataFrame, max_chars: int) -> str:
    head = "<tr><th>id</th><th>gold</th><th>base output (tokens)</th><th>adapter output (tokens)</th><th>prompt</th></tr>"
    body = []
    for r in rows.itertuples():
        outputs = []
        for side in ("base", "adapter"):
            text = getattr(r, f"{side}_generated") or getattr(r, f"{side}_output")
            shown = _cut(text, max_chars)
            if getattr(r, f"{side}_generated"):
                shown = f"<b>{_cut(getattr(r, f'{side}_output'), 80)}</b><br>{shown}"
            outputs.append(f"<td><pre>{shown}</pre> ({getattr(r, f'{side}_tokens')})</td>")
        body.append(
            f"<tr><td>{html.escape(str(r.id))}</td><td>{_cut(r.gold, max_chars)}</td>{''.join(outputs)}"
            f"<td><details><summary>show</summary><pre>{_cut(r.prompt, max_chars)}</pre></details></td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


PAGE_STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;width:100%}"
    "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}"
    "pre{white-space:pre-wrap;margin:0;max-height:20em;overflow:auto}.cell{margin-bottom:2em}"
)
PAGE_SCRIPT = (
    "function show(k){document.querySelectorAll('.cell').forEach(function(d){"
    "d.style.display=(d.id===k)?'block':'none';});}"
    "var s=document.getElementById('pick');s.onchange=function(){show(s.value);};show(s.value);"
)


def page(examples: pd.DataFrame, counts: pd.DataFrame, model: str, n_show: int, max_chars: int) -> str:
    """Self-contained HTML: a <select> of cells and the first `n_show` gains and losses of each."""
    options, sections = [], []
    for i, c in enumerate(counts.itertuples()):
        key = f"cell{i}"
        title = (
            f"{c.adapter} → {c.target}: +{c.gains} / −{c.losses} (net {c.net_points:+.1f} points of {c.n})"
        )
        options.append(f'<option value="{key}">{html.escape(title)}</option>')
        cell = examples[(examples.adapter == c.adapter) & (examples.target == c.target)]
        parts = [f'<div class="cell" id="{key}"><h2>{html.escape(title)}</h2>']
        for direction, label in (
            ("gain", "Gains (base wrong → adapter right)"),
            ("loss", "Losses (base right → adapter wrong)"),
        ):
            rows = cell[cell.direction == direction]
            parts.append(f"<h3>{label}: first {min(n_show, len(rows))} of {len(rows)}</h3>")
            parts.append(_examples_table(rows.head(n_show), max_chars) if len(rows) else "<p>none</p>")
        sections.append("".join(parts) + "</div>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(model)}: inside the cells</title>"
        f"<style>{PAGE_STYLE}</style></head><body><h1>{html.escape(model)}: examples flipped by each adapter</h1>"
        f"<p>Cell: <select id='pick'>{''.join(options)}</select></p>{''.join(sections)}"
        f"<script>{PAGE_SCRIPT}</script></body></html>"
    )


def run(prediction_paths: list[str], model: str, out: dict, settings: dict) -> pd.DataFrame:
    """Write examples.csv, flips.csv, flips.png and flips.html (see the module docstring)."""
    examples, counts = collect(prediction_paths, model)
    io.write_csv(out["examples"], examples)
    io.write_csv(out["counts"], counts)
    io.save_figure(out["figure"], counts_figure(counts, model))
    io.write_text(out["page"], page(examples, counts, model, settings["n_show"], settings["max_chars"]))
    return counts
