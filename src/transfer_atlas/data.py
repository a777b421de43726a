"""prepare_data: raw rows (generated or loaded) -> records of the data contract.

Record format (one JSON object per line of results/data/{dataset}/{train,eval}.jsonl):
  id: str, prompt: str, target: str (the training continuation),
  label: str (classify / multiple_choice: the gold label or choice; generation: the gold answer),
  choices: [str] (classify / multiple_choice: the continuations scored by log-likelihood),
  meta: {} (task-specific extras: original label of a mislabeled row, language, ...)
  question, shots (eval records of few-shot tasks): the prompt without its solved examples,
  and those examples as [[prompt, target], ...] (the prompt is their plain-text rendering)
"""

from __future__ import annotations

import importlib
import logging
import random
import statistics
import zlib
from collections import Counter
from pathlib import Path

from transfer_atlas import io
from transfer_atlas.config import card_overrides
from transfer_atlas.tasks import TaskCard, load_card
from transfer_atlas.variants import apply_variants

log = logging.getLogger(__name__)
RECORD_FIELDS = ("id", "prompt", "target", "label", "meta")


def _seed(spec: dict, salt: str) -> int:
    return (int(spec.get("seed", 0)) * 1_000_003 + zlib.crc32(salt.encode())) % (2**31)


def raw_splits(spec: dict, card: TaskCard) -> dict[str, list[dict]]:
    """Raw rows of the train and eval splits, before variants."""
    if card.generator:
        from transfer_atlas.tasks.synthetic import GENERATORS

        n_train, n_eval = int(spec.get("n_train", 200)), int(spec.get("n_eval", 50))
        rows = GENERATORS[card.generator](n_train + n_eval, int(spec.get("seed", 0)))
        return {"train": rows[:n_train], "eval": rows[n_train:]}
    # a loader card names its module: transfer_atlas.tasks.{loader}.load_splits(spec, card)
    return importlib.import_module(f"transfer_atlas.tasks.{card.loader}").load_splits(spec, card)


def _format(template: str, row: dict, where: str) -> str:
    try:
        return template.format(**row)
    except KeyError as err:
        raise io.DataError(f"{where}: missing field {err}") from None


def _choice_row(row: dict, where: str) -> dict:
    """multiple_choice: choices stripped, `label` = the gold choice's text (an int label is an index)."""
    choices = row.get("choices")
    if not choices or not isinstance(choices, (list, tuple)):
        raise io.DataError(f"{where}: missing field 'choices' (a list of answer texts)")
    choices = [str(c).strip() for c in choices]
    label = row.get("label", row.get("answer"))
    if isinstance(label, int) and not isinstance(label, bool) and str(label) not in choices:
        label = choices[label] if 0 <= label < len(choices) else label
    if str(label).strip() not in choices:
        raise io.DataError(f"{where}: field 'label': {label!r} is not one of the row's choices {choices}")
    return {**row, "choices": choices, "label": str(label).strip()}


def to_records(rows: list[dict], card: TaskCard, name: str, split: str) -> list[dict]:
    """Format rows with the card's templates; check labels against the card's label set
    (classify) or the row's choices (multiple_choice)."""
    records = []
    for i, row in enumerate(rows):
        where = f"dataset '{name}' ({split} split), row {i}"
        if card.type == "classify" and str(row.get("label")) not in card.labels:
            raise io.DataError(
                f"{where}: field 'label': {row.get('label')!r} is not in the task's labels {list(card.labels)}"
            )
        if card.type == "multiple_choice":
            row = _choice_row(row, where)
        prompt = _format(card.template, row, where)
        record = {
            "id": str(row.get("id", f"{name}-{split}-{i}")),
            "prompt": prompt,
            "target": _format(card.target_template, row, where),
            "label": str(row["label"] if "label" in row else row.get("answer", "")),
            "meta": dict(row.get("meta", {})),
        }
        if card.type == "classify":
            record["choices"] = [" " + label for label in card.labels]
        elif card.type == "multiple_choice":
            record["choices"] = [" " + c for c in row["choices"]]
        if card.language:
            record["meta"]["language"] = card.language
        records.append(record)
    return records


def add_fewshot(records: list[dict], shots: list[dict], k: int, seed: int = 1234) -> list[dict]:
    """Prefix each prompt with k solved training examples (same k for every record), drawn
    as lm-evaluation-harness's default sampler draws them: one `random.Random(seed)` for the
    split, `sample(shots, k)` per record in order (the harness's seed is 1234); turns joined
    by "\n\n". Keeps `question` (the prompt alone) and `shots` ([[prompt, target], ...])
    so prompts can be rendered as chat turns."""
    if k <= 0 or not shots:
        return records
    rng = random.Random(seed)
    out = []
    for record in records:
        drawn = rng.sample(shots, min(k, len(shots)))
        demo = "".join(s["prompt"] + s["target"] + "\n\n" for s in drawn)
        turns = [[s["prompt"], s["target"]] for s in drawn]
        out.append(
            {**record, "prompt": demo + record["prompt"], "question": record["prompt"], "shots": turns}
        )
    return out


def split_spec(spec: dict, split: str) -> dict:
    """The settings `split` of this dataset depends on (the params of its prepare_data job).

    The train split ignores `fewshot` (eval prompts only) and, for generated tasks (whose
    generators are prefix-stable: the first n_train rows do not depend on n_eval), `n_eval`;
    so changing a target's eval size rebuilds only its eval split, never a training job."""
    if split == "eval":
        return dict(spec)
    if spec.get("lm_eval_task"):  # the harness builds both splits together
        return dict(spec)
    drop = {"fewshot", "fewshot_seed"}
    if load_card(spec["task"], card_overrides(spec)).generator:
        drop.add("n_eval")
    return {k: v for k, v in spec.items() if k not in drop}


def prepare_split(spec: dict, split: str, out: str | Path) -> int:
    """Build both splits of one dataset in memory and write `split`; returns its size."""
    records = build_records(spec)
    return io.write_jsonl(out, records[split])


def prepare(spec: dict, train_out: str | Path, eval_out: str | Path) -> dict[str, int]:
    """Build and write both splits of one dataset; returns {split: n_records}."""
    records = build_records(spec)
    io.write_jsonl(train_out, records["train"])
    io.write_jsonl(eval_out, records["eval"])
    return {split: len(r) for split, r in records.items()}


def build_records(spec: dict) -> dict[str, list[dict]]:
    """{"train": records, "eval": records} of one dataset (variants and few-shot applied)."""
    name = spec["name"]
    if spec.get("lm_eval_task"):  # the harness's own prompts (transfer_atlas.harness_task)
        from transfer_atlas import harness_task

        return harness_task.prepare(spec)
    card = load_card(spec["task"], card_overrides(spec))
    splits = raw_splits(spec, card)
    variant_splits = spec.get("variant_splits") or ["train", "eval"]
    records = {}
    for split, rows in splits.items():
        if split in variant_splits:
            try:
                rows = apply_variants(rows, spec, list(card.labels), _seed(spec, split))
            except ValueError as err:
                raise io.DataError(f"dataset '{name}' ({split} split): {err}") from None
        if not rows:
            raise io.DataError(f"dataset '{name}': the {split} split is empty")
        records[split] = to_records(rows, card, name, split)
        log.info("%s: %d %s records", name, len(records[split]), split)
    records["eval"] = add_fewshot(
        records["eval"], records["train"], card.fewshot, spec.get("fewshot_seed", 1234)
    )
    return records


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    qs = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "p5": qs[0],
        "p95": qs[-1],
        "min": min(values),
        "max": max(values),
    }


def profile(train_path: str, eval_path: str, tokenizers: dict[str, object]) -> dict:
    """Size, label distribution and prompt/target lengths (words, and tokens per model)."""
    out: dict = {"splits": {}}
    for split, path in (("train", train_path), ("eval", eval_path)):
        recs = io.read_jsonl(path, required=RECORD_FIELDS)
        entry = {
            "n": len(recs),
            "label_distribution": dict(Counter(r["label"] for r in recs).most_common()),
            "prompt_words": _stats([len(r["prompt"].split()) for r in recs]),
            "target_words": _stats([len(r["target"].split()) for r in recs]),
            "tokens": {},
        }
        for model, tok in tokenizers.items():
            entry["tokens"][model] = {
                "prompt": _stats([len(tok(r["prompt"])["input_ids"]) for r in recs]),
                "target": _stats(
                    [len(tok(r["target"], add_special_tokens=False)["input_ids"]) for r in recs]
                ),
            }
        out["splits"][split] = entry
    return out
