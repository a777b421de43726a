"""harness: lm-evaluation-harness on an in-memory model, offline (the reference route).

`records_task` writes a harness task YAML (`dataset_path: json` on a local file) whose
documents are our eval records, so the harness scores exactly our prompts and choices;
`run` evaluates task YAMLs from a folder (`TaskManager(include_path=...)`) with the
harness's own `simple_evaluate` and `HFLM`, and returns its logged samples.

Per-document sample (what `run` returns per task, in document order): the harness's
`doc`, `arguments` (context, continuation) per request, `resps`, `filtered_resps` and
its metric values (`acc`, `acc_norm`, `acc_bytes`, `exact_match`, ...); `doc_views`
flattens them to one view per document and `compare` sets them beside our prediction rows
(the parity tests and `perf/bench_harness_route.py` use both).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import yaml

from transfer_atlas import io

log = logging.getLogger(__name__)
MC_METRICS = [
    {"metric": m, "aggregation": "mean", "higher_is_better": True} for m in ("acc", "acc_norm", "acc_bytes")
]


def harness_dir() -> Path:
    """The installed lm_eval package's task folder (its own task YAMLs)."""
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def _strip_delimiter(text: str, delimiter: str = " ") -> str:
    return text[len(delimiter) :] if delimiter and text.startswith(delimiter) else text


def records_docs(records: list[dict]) -> list[dict]:
    """Harness documents of our records: question (the prompt without few-shot turns),
    options (choices without the target delimiter), gold (index), answer (target text)."""
    docs = []
    for r in records:
        doc = {
            "id": r["id"],
            "question": r.get("question", r["prompt"]),
            "answer": _strip_delimiter(r["target"]),
        }
        if r.get("choices"):
            options = [_strip_delimiter(c) for c in r["choices"]]
            doc.update(options=options, gold=options.index(r["label"]))
        docs.append(doc)
    return docs


def records_task(
    folder: str | Path, name: str, records: list[dict], card, train_records: list[dict] | None = None
) -> Path:
    """Write `{folder}/{name}.yaml` + its documents: our records as a harness task of the
    card's type (multiple_choice for classify / multiple_choice; generate_until with the
    harness's GSM8K filters and exact_match for generate_number)."""
    folder = Path(folder)
    files = {"test": str(folder / f"{name}.test.jsonl")}
    io.write_jsonl(files["test"], records_docs(records))
    if train_records:
        files["train"] = str(folder / f"{name}.train.jsonl")
        io.write_jsonl(files["train"], records_docs(train_records))
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": files},
        "test_split": "test",
        "doc_to_text": "question",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
    }
    if train_records:
        config.update(training_split="train", fewshot_split="train")
    if card.is_generation:
        gsm8k = yaml.safe_load((harness_dir() / "gsm8k" / "gsm8k.yaml").read_text())
        config.update(
            output_type="generate_until",
            doc_to_target="answer",
            metric_list=gsm8k["metric_list"],
            filter_list=gsm8k["filter_list"],
            generation_kwargs={
                "until": list(card.stop),
                "do_sample": False,
                "max_gen_toks": card.max_new_tokens,
            },
        )
    else:
        config.update(
            output_type="multiple_choice",
            doc_to_choice="options",
            doc_to_target="gold",
            metric_list=MC_METRICS,
        )
    path = folder / f"{name}.yaml"
    io.write_text(path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def run(
    model,
    tok,
    task_dir: str | Path,
    tasks: list[str],
    batch_size: int = 16,
    num_fewshot: int | None = None,
    apply_chat_template: bool = False,
    fewshot_as_multiturn: bool = False,
    max_length: int = 2048,
    include_defaults: bool = False,
    limit: int | None = None,
    manager=None,
    softmax_dtype: str | None = None,
) -> dict:
    """The harness's `simple_evaluate` on `model` (HFLM on the in-memory model and
    tokenizer) for task YAMLs in `task_dir` (and the harness's own tasks with
    `include_defaults` or without `task_dir`), at most `limit` documents each: {"results": its
    aggregate results, "samples": {task: [sample, ...]} in document order}. `softmax_dtype`:
    HFLM's option of that name (None: its log-softmax in the model's dtype)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(
        pretrained=model,
        tokenizer=tok,
        batch_size=batch_size,
        max_length=max_length,
        softmax_dtype=softmax_dtype,
    )
    if manager is None:
        include = str(task_dir) if task_dir else None
        manager = TaskManager(include_path=include, include_defaults=include_defaults or not include)
    out = simple_evaluate(
        model=lm,
        tasks=tasks,
        num_fewshot=num_fewshot,
        task_manager=manager,
        log_samples=True,
        apply_chat_template=apply_chat_template,
        fewshot_as_multiturn=fewshot_as_multiturn,
        bootstrap_iters=0,
        limit=limit,
    )
    samples = {t: sorted(s, key=lambda x: x["doc_id"]) for t, s in out["samples"].items()}
    return {"results": out["results"], "samples": samples}


def doc_views(samples: list[dict]) -> list[dict]:
    """The harness's logged samples of one task as one view per document, in document order:
    {context, loglik [per choice], picks {acc, acc_norm, acc_bytes}, metrics {name: value},
    generation, extracted {filter name: answer}} (choice tasks: loglik/picks; generation
    tasks: generation/extracted, metrics keyed `exact_match_{filter}`)."""
    views: dict[int, dict] = {}
    for sample in samples:
        view = views.setdefault(sample["doc_id"], {"metrics": {}, "extracted": {}})
        args = sample["arguments"]
        view["context"] = args[0][0]
        if isinstance(args[0][1], dict):  # generate_until: (context, generation kwargs)
            view["generation"] = sample["resps"][0][0]
            view["extracted"][sample["filter"]] = sample["filtered_resps"][0]
            view["metrics"][f"exact_match_{sample['filter']}"] = float(sample["exact_match"])
            continue
        lls = np.array([float(r[0]) for r in sample["filtered_resps"]])
        options = sample["doc"]["options"]
        chars = np.array([len(o) for o in options], dtype=float)
        nbytes = np.array([len(o.encode("utf-8")) for o in options], dtype=float)
        view["loglik"] = lls.tolist()
        view["continuations"] = [a[1] for a in args]
        view["picks"] = {
            "acc": int(np.argmax(lls)),
            "acc_norm": int(np.argmax(lls / chars)),
            "acc_bytes": int(np.argmax(lls / nbytes)),
        }
        view["metrics"].update({m: float(sample[m]) for m in ("acc", "acc_norm", "acc_bytes") if m in sample})
    return [views[k] for k in sorted(views)]


def _our_picks(row: dict, card) -> dict[str, str]:
    acc, norm = (
        (row["pred_other"], row["output"])
        if card.metric == "acc_norm"
        else (row["output"], row["pred_other"])
    )
    return {"acc": acc, "acc_norm": norm, "acc_bytes": row["pred_bytes"]}


def compare(rows: list[dict], views: list[dict], records: list[dict], card) -> dict:
    """Agreement of our prediction rows with the harness's views of the same documents.

    Returns {n, contexts_identical, then choice tasks: acc_identical, acc_norm_identical,
    acc_bytes_identical (counts of identical picks), max_loglik_diff (nats); generation
    tasks: generation_identical, strict_identical, flexible_identical (counts); `ours` and
    `harness`: {metric: value in points}; `differences`: the first differing documents}."""
    if len(rows) != len(views):
        raise ValueError(f"{len(rows)} predictions vs {len(views)} harness documents")
    out = {"n": len(rows), "contexts_identical": 0, "ours": {}, "harness": {}, "differences": []}
    per_metric: dict[str, list] = {}
    for row, view, record in zip(rows, views, records):
        same = {"context": view["context"] == record["prompt"]}
        if card.is_generation:
            same["generation"] = view["generation"] == row["output"]
            for kind, filt in (("strict", "strict-match"), ("flexible", "flexible-extract")):
                same[kind] = view["extracted"][filt] == row[f"extracted_{kind}"]
                per_metric.setdefault(f"exact_match_{kind}", []).append(
                    (row[f"correct_{kind}"], view["metrics"][f"exact_match_{filt}"])
                )
        else:
            labels = [c.strip() for c in record["choices"]]
            diff = float(np.max(np.abs(np.subtract(row["logprobs"], view["loglik"]))))
            out["max_loglik_diff"] = max(out.get("max_loglik_diff", 0.0), diff)
            for metric, label in _our_picks(row, card).items():
                same[metric] = labels.index(label) == view["picks"][metric]
                correct = label == record["label"]
                per_metric.setdefault(metric, []).append((correct, view["metrics"].get(metric)))
        for key, ok in same.items():
            name = {"context": "contexts_identical"}.get(key, f"{key}_identical")
            out[name] = out.get(name, 0) + int(ok)
        if not all(same.values()) and len(out["differences"]) < 5:
            out["differences"].append({"id": record["id"], **{k: v for k, v in same.items() if not v}})
    for metric, pairs in per_metric.items():
        out["ours"][metric] = 100 * float(np.mean([p[0] for p in pairs]))
        if all(p[1] is not None for p in pairs):
            out["harness"][metric] = 100 * float(np.mean([p[1] for p in pairs]))
    return out
