"""Read the workflow's per-example outputs into aligned tables.

Predictions live at results/predictions/{model}/{adapter}/{target}.jsonl where adapter
is `base` or `{source}/seed{seed}`; `cell_key` turns such a path into (adapter, target).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd

from transfer_atlas import io

PREDICTION_FIELDS = ("id", "correct")


def cell_key(path: str | Path) -> tuple[str, str]:
    """(adapter, target) of a predictions path; adapter is `base` or `{source}/seed{seed}`."""
    path = Path(path)
    target = path.stem
    if path.parent.name == "base":
        return "base", target
    return f"{path.parent.parent.name}/{path.parent.name}", target


def source_of(adapter: str) -> str:
    """Source dataset of an adapter key (`base` stays `base`)."""
    return adapter.split("/seed")[0]


def group_by_target(paths: list[str]) -> dict[str, dict[str, str]]:
    """{target: {adapter: path}} in the order the paths are given."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for path in paths:
        adapter, target = cell_key(path)
        out[target][adapter] = str(path)
    return dict(out)


def read_predictions(path: str | Path, fields: tuple[str, ...] = PREDICTION_FIELDS) -> pd.DataFrame:
    """Predictions file as a frame indexed by example id (the `fields` are required)."""
    rows = io.read_jsonl(path, required=fields)
    if not rows:
        raise io.DataError(f"{path}: no predictions")
    return pd.DataFrame(rows).set_index("id")


def correctness_table(paths: dict[str, str]) -> pd.DataFrame:
    """Examples x adapters table of correctness (0/1 floats) of one target.

    `paths` maps adapter (`base`, `{source}/seed{seed}`) -> predictions file; rows follow
    the first file's id order; every file must hold the same example ids.
    """
    columns = {}
    reference = None
    for adapter, path in paths.items():
        frame = read_predictions(path)
        if reference is None:
            reference = frame.index
        elif set(frame.index) != set(reference):
            raise io.DataError(f"{path}: example ids differ from {next(iter(paths.values()))}")
        columns[adapter] = frame["correct"].astype(float).reindex(reference)
    return pd.DataFrame(columns)


def read_parse(path: str | Path) -> list[dict]:
    """Rows of a spaCy parse cache (see `similarity.parse_records`)."""
    return io.read_jsonl(path, required=("id", "sents"))
