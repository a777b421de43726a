"""Real-data loader (`loader: real` cards): local files or the Hugging Face hub -> raw rows.

Where the rows come from, per split:
- `train_path` / `eval_path` in the dataset spec: that file or folder;
- `path`: a file (jsonl, json, csv, parquet), a `save_to_disk` folder (Dataset or
  DatasetDict), or a folder of files; in a folder the split's file is `{split}.{ext}`
  (split names from the card's `hub.train_split` / `hub.eval_split`, or the spec's
  `train_split` / `eval_split`), and without one every data file in it is read;
- otherwise the hub: `datasets.load_dataset(hub.id, hub.config, split=..., revision=...)`.
When train and eval resolve to the same table, a seeded hold-out of `n_eval` rows (default
a fifth) is the eval split and the rest the train split.

Rows are dicts of the card's template fields plus `label` (classify: a word of the card's
labels) or `answer` (generation gold), `id` and `meta` {source, row}. `n_train` / `n_eval`
cap the splits by a seeded subsample. Bad rows raise io.DataError naming source, row, field.

The generic helpers `read_table`, `load_hub_split`, `split_names`, `hub_source` and
`select_rows` keep their signatures: other loaders (e.g. tasks/multilingual.py) reuse them.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import Any

from transfer_atlas import io
from transfer_atlas.tasks import TaskCard
from transfer_atlas.variants import subsample

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


# --- generic helpers (shared with other loaders; keep the signatures stable) -----------------


def _is_saved_dataset(folder: Path) -> bool:
    return any((folder / f).exists() for f in ("dataset_dict.json", "state.json"))


def _read_files(files: list[Path]):
    """One Dataset from data files; several files get a `_file` column (file stem)."""
    import datasets

    parts = []
    for f in files:
        builder = BUILDERS.get(f.suffix.lower())
        if builder is None:
            raise io.DataError(f"{f}: unsupported file type (use {', '.join(sorted(BUILDERS))})")
        try:
            part = datasets.load_dataset(builder, data_files=str(f), split="train")
        except Exception as err:  # arrow/json parse errors: name the file
            raise io.DataError(f"{f}: cannot be read as {builder}: {err}") from err
        parts.append(part.add_column("_file", [f.stem] * len(part)) if len(files) > 1 else part)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def read_table(path: str | Path, split: str | None = None):
    """A `datasets.Dataset` from a local file or folder; `split` picks a split where the folder
    has one (`{split}.{ext}` file or a DatasetDict key), else the whole data is returned."""
    import datasets

    path = Path(path)
    if not path.exists():
        raise io.DataError(f"{path}: no such file or folder")
    if path.is_dir() and _is_saved_dataset(path):
        obj = datasets.load_from_disk(str(path))
        if isinstance(obj, datasets.DatasetDict):
            if split in obj:
                return obj[split]
            raise io.DataError(f"{path}: no split '{split}' (it has {sorted(obj)})")
        return obj
    if path.is_dir():
        found = split_file(path, split)
        files = [found] if found else sorted(f for f in path.iterdir() if f.suffix.lower() in BUILDERS)
        if not files:
            raise io.DataError(f"{path}: no data files ({', '.join(sorted(BUILDERS))})")
        return _read_files(files)
    return _read_files([path])


def split_file(folder: Path, split: str | None) -> Path | None:
    """The `{split}.{ext}` data file in `folder`, or None."""
    if split is None:
        return None
    for ext in BUILDERS:
        if (folder / f"{split}{ext}").is_file():
            return folder / f"{split}{ext}"
    return None


def load_hub_split(hub: dict, split: str):
    """One split of a hub dataset: load_dataset(hub['id'], hub.get('config'), split, revision)."""
    import datasets

    if not hub.get("id"):
        raise io.DataError("no hub dataset id (give `hub: {id: ...}` or a local `path`)")
    try:
        return datasets.load_dataset(hub["id"], hub.get("config"), split=split, revision=hub.get("revision"))
    except Exception as err:
        where = f"hub dataset '{hub['id']}' (config {hub.get('config')}, split {split}, revision {hub.get('revision')})"
        raise io.DataError(f"{where}: {type(err).__name__}: {err}") from err


def hub_source(spec: dict, card: TaskCard) -> dict:
    """The card's hub settings updated by the dataset spec's `hub`."""
    return {**card.hub, **(spec.get("hub") or {})}


def split_names(spec: dict, card: TaskCard) -> tuple[str, str]:
    """(train split, eval split): spec `train_split`/`eval_split`, else the hub settings."""
    hub = hub_source(spec, card)
    return (
        spec.get("train_split") or hub.get("train_split", "train"),
        spec.get("eval_split") or hub.get("eval_split", "test"),
    )


def select_rows(pool: list[int], spec: dict, eval_pool: list[int] | None = None) -> dict[str, list[int]]:
    """Row indices of each split. With `eval_pool` None, train and eval share `pool`: a seeded
    hold-out of `n_eval` rows (default a fifth) is the eval split. Then the `n_train` / `n_eval`
    caps: a seeded subsample, original order kept."""
    seed = int(spec.get("seed", 0))
    if eval_pool is None:
        n_eval = int(spec.get("n_eval") or max(1, len(pool) // 5))
        if n_eval >= len(pool):
            raise io.DataError(f"cannot hold out {n_eval} eval rows from a table of {len(pool)} rows")
        held = set(random.Random(f"{seed}:holdout").sample(pool, n_eval))
        pools = {"train": [i for i in pool if i not in held], "eval": [i for i in pool if i in held]}
    else:
        pools = {"train": list(pool), "eval": list(eval_pool)}
    out = {}
    for split, rows in pools.items():
        cap = spec.get(f"n_{split}")
        out[split] = subsample(rows, int(cap), random.Random(f"{seed}:{split}")) if cap else rows
    return out


def row_pool(table, where: dict[str, str], desc: str) -> list[int]:
    """Indices of the rows whose `column` matches its regex for every `where` entry (all rows
    when `where` is empty); indices stay those of the source table."""
    keep = range(len(table))
    for column, pattern in where.items():
        if column not in table.column_names:
            raise io.DataError(f"{desc}: field '{column}' (named in `where`) is missing")
        regex, values = re.compile(pattern), list(table[column])
        keep = [i for i in keep if values[i] is not None and regex.search(str(values[i]))]
    return list(keep)


# --- the `real` loader --------------------------------------------------------------------


def _has_split(path: Path, name: str) -> bool:
    if (path / "dataset_dict.json").is_file():
        return name in io.read_json(path / "dataset_dict.json").get("splits", [])
    return path.is_dir() and split_file(path, name) is not None


def _local_path(spec: dict, split: str) -> Path:
    path = spec.get(f"{split}_path") or spec.get("path")
    if not path:
        raise io.DataError(f"dataset '{spec.get('name')}': no `path` or `{split}_path` for the {split} split")
    return Path(path)


def source_tables(spec: dict, card: TaskCard) -> dict[str, tuple[Any, str, str]]:
    """{split: (Dataset, description, source split name)}; one description = one shared table."""
    names = dict(zip(("train", "eval"), split_names(spec, card), strict=True))
    local = any(k in spec for k in ("path", "train_path", "eval_path"))
    hub = hub_source(spec, card)
    descs = {}
    for split, name in names.items():
        if not local:
            descs[split] = f"hub:{hub.get('id')}[{name}]"
            continue
        path = _local_path(spec, split)
        descs[split] = f"{path}[{name}]" if _has_split(path, name) else str(path)
    cache: dict[str, Any] = {}
    out = {}
    for split, desc in descs.items():
        if desc not in cache:
            path = _local_path(spec, split) if local else None
            cache[desc] = read_table(path, names[split]) if local else load_hub_split(hub, names[split])
        out[split] = (cache[desc], desc, names[split])
    return out


def template_fields(card: TaskCard) -> set[str]:
    """Field names used by the card's prompt and target templates."""
    fmt = string.Formatter()
    return {f for t in (card.template, card.target_template) for _, f, _, _ in fmt.parse(t) if f}


def field_map(spec: dict, card: TaskCard) -> dict[str, str]:
    """Task field -> source column: identity for template fields, then card, then spec `fields`."""
    needed = template_fields(card) - {"label", "answer"}  # derived below when not columns
    if card.type == "classify" and not card.label_threshold:
        needed.add("label")
    if card.is_generation and not card.answer_from:
        needed.add("answer")
    return {**{f: f for f in needed}, **card.fields, **(spec.get("fields") or {})}


def _label(raw: dict, row: dict, card: TaskCard, label_map: dict, where: str) -> str:
    if card.label_threshold:
        t = card.label_threshold
        value = raw.get(t["field"])
        if not isinstance(value, (int, float)):
            raise io.DataError(f"{where}: field '{t['field']}': {value!r} is not a number")
        return str(t["labels"][1] if value >= t["at"] else t["labels"][0])
    value = row["label"]
    if label_map:
        mapped = label_map.get(value, label_map.get(str(value)))
        if mapped is None and isinstance(value, str) and value.lstrip("-").isdigit():
            mapped = label_map.get(int(value))
        value = value if mapped is None else mapped
    if str(value) not in card.labels:
        raise io.DataError(f"{where}: field 'label': {value!r} is not one of {list(card.labels)}")
    return str(value)


def _answer(row: dict, card: TaskCard, where: str) -> str:
    spec = card.answer_from
    text = str(row[spec["field"]])
    if not spec.get("regex"):
        return text
    match = re.search(spec["regex"], text)
    if not match:
        raise io.DataError(f"{where}: field '{spec['field']}': no match for {spec['regex']!r}")
    return match.group(1).strip()


def normalise_row(raw: dict, spec: dict, card: TaskCard, where: str) -> dict:
    """Map one source row to template fields + label/answer; `where` names source and row."""
    row: dict[str, Any] = {}
    caps = {**card.max_chars, **(spec.get("max_chars") or {})}
    for task_field, column in field_map(spec, card).items():
        if raw.get(column) is None:
            raise io.DataError(f"{where}: missing field '{column}'")
        value = raw[column]
        cap = caps.get(task_field)
        row[task_field] = value[:cap] if cap and isinstance(value, str) else value
    if card.type == "classify":
        row["label"] = _label(raw, row, card, spec.get("label_map") or card.label_map, where)
    elif card.is_generation and card.answer_from:
        row["answer"] = _answer(row, card, where)
    if "id" in row:
        row["id"] = str(row["id"])
    return row


def load_splits(spec: dict, card: TaskCard) -> dict[str, list[dict]]:
    """{"train": rows, "eval": rows} of a real task (see the module docstring)."""
    tables = source_tables(spec, card)
    (train, train_desc, _), (evalt, eval_desc, _) = tables["train"], tables["eval"]
    pool = row_pool(train, card.where, train_desc)
    shared = train_desc == eval_desc
    try:
        picks = select_rows(pool, spec, None if shared else row_pool(evalt, card.where, eval_desc))
    except io.DataError as err:
        raise io.DataError(f"{train_desc}: {err}") from None
    out = {}
    for split, (table, desc, name) in tables.items():
        rows = []
        for i, raw in zip(picks[split], table.select(picks[split]), strict=True):
            row = normalise_row(raw, spec, card, f"{desc}: row {i}")
            row.setdefault("id", f"{name}-{i}")
            row["meta"] = {"source": desc, "row": i, **({"file": raw["_file"]} if "_file" in raw else {})}
            rows.append(row)
        if not rows:
            raise io.DataError(f"{desc}: the {split} split is empty")
        out[split] = rows
    return out
