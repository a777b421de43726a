"""Task cards and the registry of task generators / loaders.

A task card (resources/tasks/{task}.yaml) says what a task is: its type
(generate_number | generate_text | classify | multiple_choice), label set, prompt
template, primary metric and few-shot count (generation answers are extracted as
lm-evaluation-harness's gsm8k task does, see `transfer_atlas.scoring`). A task's *source* of raw
rows is either a generator of the trait suite (`generator:` in the card) or a loader of
real data (`loader:` in the card, see `transfer_atlas.tasks.real`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RESOURCES = Path(__file__).resolve().parents[3] / "resources"
TASK_TYPES = ("generate_number", "generate_text", "classify", "multiple_choice")


class TaskError(ValueError):
    """Unknown task or malformed task card."""


@dataclass(frozen=True)
class TaskCard:
    name: str
    type: str
    template: str
    target_template: str
    metric: str
    labels: tuple[str, ...] = ()
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ()
    fewshot: int = 0
    generator: str | None = None
    loader: str | None = None
    hub: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    # Real-data options (see transfer_atlas.tasks.real): raw label -> label word, gold answer
    # taken from a field (optionally by regex), row filter {column: regex}, label from a score
    # threshold, per-field character caps; `also_generate` (classify) also generates an answer
    # and parses a label from it (metric `acc_generated`, reported beside `acc`).
    label_map: dict[Any, str] = field(default_factory=dict)
    answer_from: dict[str, Any] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    label_threshold: dict[str, Any] = field(default_factory=dict)
    max_chars: dict[str, int] = field(default_factory=dict)
    also_generate: bool = False
    # `lm_eval` card: {task, include, split} of the harness task a dataset entry names
    lm_eval: dict[str, Any] = field(default_factory=dict)

    @property
    def is_generation(self) -> bool:
        return self.type.startswith("generate")

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["labels"] = list(self.labels)
        out["stop"] = list(self.stop)
        return out


def tasks_dir() -> Path:
    return RESOURCES / "tasks"


def available_tasks() -> list[str]:
    return sorted(p.stem for p in tasks_dir().glob("*.yaml"))


def load_card(task: str, overrides: dict[str, Any] | None = None) -> TaskCard:
    """Read resources/tasks/{task}.yaml, apply per-dataset overrides, validate."""
    path = tasks_dir() / f"{task}.yaml"
    if not path.exists():
        raise TaskError(f"unknown task '{task}' (known: {', '.join(available_tasks())})")
    raw = yaml.safe_load(path.read_text()) or {}
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    raw.setdefault("name", task)
    if raw.get("type") not in TASK_TYPES:
        raise TaskError(f"{path}: field 'type' must be one of {TASK_TYPES}, got {raw.get('type')!r}")
    for key in ("template", "target_template", "metric"):
        if key not in raw:
            raise TaskError(f"{path}: missing field '{key}'")
    if raw["type"] == "classify" and not raw.get("labels"):
        raise TaskError(f"{path}: a classify task needs 'labels'")
    if (raw.get("also_generate") or raw["metric"] == "acc_generated") and raw["type"] != "classify":
        raise TaskError(f"{path}: 'also_generate' and metric 'acc_generated' need a classify task")
    if not (raw.get("generator") or raw.get("loader")):
        raise TaskError(f"{path}: a task needs a 'generator' or a 'loader'")
    unknown = set(raw) - set(TaskCard.__dataclass_fields__)
    if unknown:
        raise TaskError(f"{path}: unknown field(s) {sorted(unknown)}")
    raw["labels"] = tuple(str(x) for x in raw.get("labels") or ())
    raw["stop"] = tuple(raw.get("stop") or ())
    return TaskCard(**raw)
