"""harness_task: any lm-evaluation-harness task as a target or a source (`lm_eval_task:`).

A dataset entry `{name: arc_easy, lm_eval_task: arc_easy}` (optionally `lm_eval_include:`, a
folder of the user's own task YAMLs, and `lm_eval_split:`, the split to train on) uses the
harness's task: as a source, its training split becomes records through the task's own
`doc_to_text` / `doc_to_target` (`training_records`); as a target, `evaluate` runs the
harness's own task, metric and filter code on our model and turns its logged samples into
our predictions rows and score file. Tasks that read the hub need network at run time.

Prediction rows (results/predictions/.../{target}.jsonl) of a harness target: id (the
harness's doc_id), prompt (the context the harness built), gold, output (the chosen choice,
or the generation), extracted (generation: the answer after the task's first filter),
correct (the primary metric's per-document value), n_output_tokens, harness_metrics {name:
value per document}; choice tasks add logprobs. Score file: as `evaluate.score_summary`
(metric, value in points, n, bootstrap ci95 of the per-document values, metrics {name:
points}, output_tokens) plus lm_eval_task and lm_eval_version.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np

from transfer_atlas import scoring
from transfer_atlas.prompts import strip_delimiter

log = logging.getLogger(__name__)
PREFERRED = ("acc_norm", "exact_match", "acc")  # the primary metric: the first the task reports


class UnknownHarnessTask(ValueError):
    """A task name the harness does not know (with the closest names)."""


def task_manager(name: str, include: str | None = None):
    """The harness TaskManager that knows `name`: the `include` folder alone when it holds the
    task (fast), else the harness's own index too; UnknownHarnessTask names the closest."""
    from lm_eval.tasks import TaskManager

    if include:
        local = TaskManager(include_path=include, include_defaults=False)
        if name in local.all_tasks:
            return local
    manager = TaskManager(include_path=include) if include else TaskManager()
    if name not in manager.all_tasks:
        close = difflib.get_close_matches(name, manager.all_tasks, n=5, cutoff=0.6)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownHarnessTask(f"unknown lm-evaluation-harness task '{name}'{hint}")
    return manager


def check_task(name: str, include: str | None = None) -> None:
    """Raise UnknownHarnessTask (with the closest known names) when `name` is unknown."""
    task_manager(name, include)


def load_task(name: str, include: str | None = None):
    from lm_eval.tasks import get_task_dict

    return get_task_dict([name], task_manager(name, include))[name]


def _docs(task, splits: tuple[str, ...]):
    """The documents of the first of `splits` the task has."""
    for split in splits:
        if getattr(task, f"has_{split}_docs")():
            return list(getattr(task, f"{split}_docs")())
    raise ValueError(f"harness task '{task.config.task}' has none of the splits {splits}")


def task_records(task, splits: tuple[str, ...], n: int | None) -> list[dict]:
    """Records (data contract) of the task's first available split of `splits`: prompt =
    doc_to_text, target = target delimiter + the gold answer (doc_to_target, or the gold
    choice of a multiple_choice task), label = that answer."""
    delimiter = task.config.target_delimiter
    records = []
    for i, doc in enumerate(_docs(task, splits)[:n]):
        target = task.doc_to_target(doc)
        if task.config.doc_to_choice is not None and isinstance(target, int):
            target = task.doc_to_choice(doc)[target]
        target = target[0] if isinstance(target, list) else str(target)
        prompt = task.doc_to_text(doc)
        records.append(
            {"id": str(i), "prompt": str(prompt), "target": delimiter + target, "label": target, "meta": {}}
        )
    return records


def prepare(spec: dict) -> dict[str, list[dict]]:
    """{train, eval} records of a dataset entry naming a harness task: train from its training
    split (or `lm_eval_split`), eval from its evaluation split (test, else validation; the
    documents the harness scores, kept for profiles)."""
    task = load_task(spec["lm_eval_task"], spec.get("lm_eval_include"))
    split = {"train": "training"}.get(spec.get("lm_eval_split"), spec.get("lm_eval_split"))
    train_splits = (split,) if split else ("training", "validation", "test")
    return {
        "train": task_records(task, train_splits, spec.get("n_train")),
        "eval": task_records(task, ("test", "validation"), spec.get("n_eval")),
    }


def _primary(metrics: list[str]) -> str:
    return next((m for m in PREFERRED if m in metrics), metrics[0])


def rows_from_samples(samples: list[dict], tok) -> list[dict]:
    """Our prediction rows from the harness's logged samples (the first filter's samples)."""
    first_filter = samples[0]["filter"]
    rows = []
    for s in sorted((s for s in samples if s["filter"] == first_filter), key=lambda s: s["doc_id"]):
        metrics = {m: float(s[m]) for m in s["metrics"] if isinstance(s.get(m), (int, float, bool))}
        primary = _primary(list(metrics) or ["acc"])
        row = {"id": str(s["doc_id"]), "prompt": s["arguments"][0][0], "harness_metrics": metrics}
        if isinstance(s["arguments"][0][1], dict):  # generate_until
            text = s["resps"][0][0]
            row.update(gold=str(s["target"]), output=text, extracted=str(s["filtered_resps"][0]))
            row["n_output_tokens"] = len(tok(text, add_special_tokens=False)["input_ids"])
        else:
            options = [strip_delimiter(a[1]) for a in s["arguments"]]
            lls = [float(r[0]) for r in s["filtered_resps"]]
            target = s["target"]
            gold = options[target] if isinstance(target, int) and 0 <= target < len(options) else str(target)
            pick = int(
                np.argmax(np.array(lls) / [max(1, len(o)) for o in options])
                if primary == "acc_norm"
                else np.argmax(lls)
            )
            row.update(gold=gold, output=options[pick], logprobs=lls)
            row["n_output_tokens"] = len(tok(" " + options[pick], add_special_tokens=False)["input_ids"])
        row.update(correct=metrics.get(primary, 0.0), metric=primary)
        rows.append(row)
    return rows


def score_summary(rows: list[dict], cfg: dict, seed: int) -> dict:
    """Score-file body of a harness target (values in points; see the module docstring)."""
    correct = [float(r["correct"]) for r in rows]
    names = sorted({m for r in rows for m in r["harness_metrics"]})
    return {
        "metric": rows[0]["metric"] if rows else "acc",
        "value": 100 * float(np.mean(correct)),
        "n": len(rows),
        "ci95": scoring.bootstrap_ci(correct, cfg["bootstrap"], seed),
        "metrics": {m: 100 * float(np.mean([r["harness_metrics"].get(m, 0.0) for r in rows])) for m in names},
        "output_tokens": scoring.length_summary([r["n_output_tokens"] for r in rows]),
    }


def evaluate(
    model, tok, name: str, include: str | None, cfg: dict, seed: int = 0, chat: dict | None = None
) -> tuple[list[dict], dict]:
    """(prediction rows, score body) of `model` on harness task `name` (`cfg.max_eval` docs
    at most), through the harness's own simple_evaluate (its default few-shot count; with
    `chat` the model's chat template, as --apply_chat_template)."""
    import lm_eval

    from transfer_atlas import harness

    out = harness.run(
        model,
        tok,
        include,
        [name],
        cfg["batch_size"],
        manager=task_manager(name, include),
        limit=cfg.get("max_eval"),
        apply_chat_template=bool(chat),
        fewshot_as_multiturn=bool(chat and chat.get("fewshot_as_multiturn", True)),
    )
    rows = rows_from_samples(out["samples"][name], tok)
    summary = score_summary(rows, cfg, seed)
    return rows, {**summary, "lm_eval_task": name, "lm_eval_version": lm_eval.__version__}
