"""Multilingual loader (`loader: multilingual` cards): one dataset per (task, language).

The Donors and Recipients benchmarks (ARC-Challenge, Global-MMLU-Lite, HellaSwag,
TruthfulQA; machine-translated, hub ids in their cards) and offline tasks with local
copies (MGSM, SIB-200, XCOPA). A dataset spec carries `language` (set by `languages:`
expansion); rows come, in this order, from:
- `train_path` / `eval_path` / `path`: a file, a `save_to_disk` folder, or a folder
  holding the language's files; `{lang}` in a path is replaced by the spec's language.
  In a folder the loader looks for `{lang}.{split}.{ext}`, `{lang}/{split}.{ext}`,
  `data/{lang}/{split}.{ext}`, `{lang}/` (save_to_disk) and, for one-table datasets,
  `{lang}.{ext}`; split names come from the card's `hub.train_split` / `hub.eval_split`
  (or the spec's `train_split` / `eval_split`) and their aliases (validation/val/dev);
- the hub: `load_dataset(hub.id, hub.config, split=..., revision=...)` with `{lang}` in
  `config` filled in, `hub.configs: {lang: config}` for datasets with other config names,
  and `hub.languages: {lang: {id/config/splits...}}` for languages hosted elsewhere.

Splits are aligned across languages by item id. Every format names where its item id comes
from (ITEM_IDS): a field shared by all languages of the benchmark (ARC `id`, Global-MMLU
`sample_id`, HellaSwag `id`, SIB-200 `index_id`), or, for parallel tables without one
(MGSM, TruthfulQA's `truth_id`, as the Donors and Recipients release numbers its rows), the
row number in the source table. Ids numbered per split (XCOPA `idx`, row numbers) are
prefixed with the split name when train and eval are different tables, so two different
items never share an id. Rows are ordered by a hash of (dataset seed, item id), so every
language of a parallel benchmark holds out the same items and training in one language never
sees another language's evaluation items. When train and eval are the same table, the first
`n_eval` rows of that order (default a fifth) are the eval split and the rest the train
split; `n_train` / `n_eval` then cap each split. With `hub.manifest` (a CSV of `split,id`
rows, split `train` or `test`, such as the frozen manifests of the Donors and Recipients
release, `split_manifests/canonical/*.csv`; a relative path is looked up under
resources/manifests/ first), the splits are exactly the manifest's ids (missing ids are an
error), before the caps. Rows whose gold answer is
missing or malformed (known glitches of the machine translations) are skipped and counted
in the log; a structurally wrong table raises io.DataError naming the source and row.

Each `format` (the card's `hub.format`, default the card's name) maps a source row to the
card's template fields plus `label` (classify / multiple_choice: the gold label or choice
text) or `answer` (generation), `choices` (multiple_choice) and `meta`; the id is set from
ITEM_IDS.
"""

from __future__ import annotations

import csv
import logging
import zlib
from pathlib import Path

from transfer_atlas import io
from transfer_atlas.tasks import RESOURCES, TaskCard
from transfer_atlas.tasks.multilingual_formats import (  # noqa: F401 (fmt_* re-exported)
    FORMATS,
    ITEM_IDS,
    SkipRow,
    fmt_hellaswag,
    fmt_truthfulqa,
    fmt_xcopa,
)
from transfer_atlas.tasks.real import BUILDERS, hub_source, load_hub_split, read_table

log = logging.getLogger(__name__)
ALIASES = {
    "validation": ("validation", "val", "dev"),
    "val": ("val", "validation", "dev"),
    "dev": ("dev", "validation", "val"),
    "test": ("test",),
    "train": ("train",),
}


# --- where the rows come from ---------------------------------------------------------------


def _candidates(split: str) -> tuple[str, ...]:
    return ALIASES.get(split, (split,))


def find_local(folder: Path, lang: str | None, split: str) -> Path | None:
    """The file or save_to_disk folder holding `split` of language `lang` in `folder`."""
    for name in _candidates(split):
        stems = [f"{lang}.{name}", f"{lang}/{name}", f"data/{lang}/{name}", f"{lang}_{name}"] if lang else []
        for stem in stems + [name]:
            for ext in BUILDERS:
                if (folder / f"{stem}{ext}").is_file():
                    return folder / f"{stem}{ext}"
    if lang and (folder / lang).is_dir():
        return folder / lang
    for ext in BUILDERS:
        if lang and (folder / f"{lang}{ext}").is_file():
            return folder / f"{lang}{ext}"
    return None


def _local_table(path: str, lang: str | None, split: str):
    """(Dataset, description) of one split from a local path."""
    path = Path(path.replace("{lang}", lang or ""))
    if path.is_dir() and not any((path / f).exists() for f in ("dataset_dict.json", "state.json")):
        found = find_local(path, lang, split)
        if found is not None:
            path = found
    if path.is_dir() and (path / "dataset_dict.json").exists():
        import datasets

        splits = datasets.load_from_disk(str(path))
        name = next((n for n in _candidates(split) if n in splits), split)
        return read_table(path, name), f"{path}[{name}]"
    return read_table(path, split), str(path)


def language_hub(hub: dict, lang: str | None) -> dict:
    """Hub settings of one language: per-language overrides, config name filled in."""
    hub = {**hub, **(hub.get("languages") or {}).get(lang, {})}
    config = (hub.get("configs") or {}).get(lang, hub.get("config"))
    if isinstance(config, str) and lang:
        config = config.replace("{lang}", lang)
    return {**hub, "config": config}


def source_tables(spec: dict, card: TaskCard, lang: str | None) -> dict[str, tuple]:
    """{split: (Dataset, description)}; equal descriptions mean one shared table."""
    hub = language_hub(hub_source(spec, card), lang)
    names = {
        "train": spec.get("train_split") or hub.get("train_split", "train"),
        "eval": spec.get("eval_split") or hub.get("eval_split", "test"),
    }
    out, cache = {}, {}
    for split, name in names.items():
        path = spec.get(f"{split}_path") or spec.get("path")
        if (path, name) not in cache:
            if path:
                cache[path, name] = _local_table(path, lang, name)
            else:
                cache[path, name] = (
                    load_hub_split(hub, name),
                    f"hub:{hub.get('id')}/{hub['config']}[{name}]",
                )
        out[split] = cache[path, name]
    return out


# --- putting it together --------------------------------------------------------------------


def item_id(raw: dict, fmt_name: str, i: int) -> tuple[str, bool]:
    """(item id, numbered per split?) of source row number `i` (see ITEM_IDS)."""
    fields, per_split = ITEM_IDS.get(fmt_name, (("id",), False))
    for key in fields:
        if raw.get(key) not in (None, ""):
            return str(raw[key]), per_split
    return str(i), True


def format_rows(
    table, desc: str, fmt_name: str, lang: str | None, fields: dict, split: str = ""
) -> list[dict]:
    """Formatted rows of a table (skipping rows without a usable gold answer); ids numbered
    per split are prefixed with `split` when it is given (train and eval are separate tables)."""
    fmt = FORMATS[fmt_name]
    rows, skipped = [], 0
    for i, raw in enumerate(table):
        raw = {**raw, **{task: raw.get(col) for task, col in fields.items()}}
        try:
            row = fmt(raw, lang)
        except SkipRow:
            skipped += 1
            continue
        except io.DataError as err:
            raise io.DataError(f"{desc}: row {i}: {err}") from None
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise io.DataError(f"{desc}: row {i}: {type(err).__name__}: {err}") from None
        ident, per_split = item_id(raw, fmt_name, i)
        row["id"] = f"{split}/{ident}" if per_split and split else ident
        row["meta"] = {**row.get("meta", {}), "source": desc, "row": i}
        rows.append(row)
    if skipped:
        log.warning("%s: skipped %d of %d rows without a usable gold answer", desc, skipped, len(table))
    return rows


def read_manifest(path: str) -> dict[str, set[str]]:
    """{"train": ids, "eval": ids} of a `split,id` CSV (split train or test/eval)."""
    found = RESOURCES / "manifests" / path
    found = found if found.is_file() else Path(path)
    ids: dict[str, set[str]] = {"train": set(), "eval": set()}
    with open(found, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.DictReader(fh), start=2):
            split = {"test": "eval"}.get(row.get("split"), row.get("split"))
            if split not in ids or not row.get("id"):
                raise io.DataError(f"{found}: line {lineno}: needs split train|test and an id, got {row}")
            ids[split].add(row["id"])
    if ids["train"] & ids["eval"]:
        raise io.DataError(f"{found}: ids in both splits, e.g. {sorted(ids['train'] & ids['eval'])[:3]}")
    return ids


def apply_manifest(train: list[dict], evals: list[dict], manifest: str) -> dict[str, list[dict]]:
    """The rows whose ids the manifest puts in each split (every manifest id must be found)."""
    ids = read_manifest(manifest)
    out = {}
    for split, rows in (("train", train), ("eval", evals)):
        out[split] = [r for r in rows if r["id"] in ids[split]]
        missing = ids[split] - {r["id"] for r in out[split]}
        if missing:
            raise io.DataError(
                f"manifest {manifest}: {len(missing)} {split} ids not in the source, e.g. {sorted(missing)[:3]}"
            )
    return out


def aligned_order(rows: list[dict], seed: int) -> list[dict]:
    """Rows ordered by a hash of (seed, id): the same ids come first in every language."""
    return sorted(rows, key=lambda r: (zlib.crc32(f"{seed}:{r['id']}".encode()), r["id"]))


def split_rows(train: list[dict], evals: list[dict] | None, spec: dict, manifest: str | None = None):
    """Train/eval rows: the manifest's ids, or a hold-out from one table when `evals` is None;
    aligned order, then the caps."""
    seed = int(spec.get("seed", 0))
    if manifest:
        out = apply_manifest(train, train if evals is None else evals, manifest)
        out = {split: aligned_order(rows, seed) for split, rows in out.items()}
    elif evals is None:
        train = aligned_order(train, seed)
        n_eval = int(spec.get("n_eval") or max(1, len(train) // 5))
        if n_eval >= len(train):
            raise io.DataError(f"cannot hold out {n_eval} eval rows from a table of {len(train)} rows")
        out = {"train": train[n_eval:], "eval": train[:n_eval]}
    else:
        out = {"train": aligned_order(train, seed), "eval": aligned_order(evals, seed)}
    for split in out:
        if spec.get(f"n_{split}"):
            out[split] = out[split][: int(spec[f"n_{split}"])]
    return out


def load_splits(spec: dict, card: TaskCard) -> dict[str, list[dict]]:
    """{"train": rows, "eval": rows} of one language of a multilingual task."""
    lang = spec.get("language") or card.language
    hub = hub_source(spec, card)
    fmt_name = hub.get("format", card.name)
    if fmt_name not in FORMATS:
        raise io.DataError(
            f"task '{card.name}': unknown multilingual format '{fmt_name}' (known: {sorted(FORMATS)})"
        )
    fields = {**card.fields, **(spec.get("fields") or {})}
    tables = source_tables(spec, card, lang)
    (train_t, train_d), (eval_t, eval_d) = tables["train"], tables["eval"]
    shared = train_d == eval_d
    train = format_rows(train_t, train_d, fmt_name, lang, fields, "" if shared else "train")
    evals = None if shared else format_rows(eval_t, eval_d, fmt_name, lang, fields, "eval")
    out = split_rows(train, evals, spec, hub.get("manifest"))
    for split, rows in out.items():
        if not rows:
            raise io.DataError(f"dataset '{spec.get('name')}': the {split} split is empty")
    return out
