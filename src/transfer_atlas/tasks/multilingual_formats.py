"""Row formats of the multilingual loader: one function per benchmark family mapping a source
row to the card's template fields plus `label` / `answer`, `choices` and `meta`, and where
each format's item id comes from (ITEM_IDS; see `transfer_atlas.tasks.multilingual`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from transfer_atlas import io

LETTERS = "ABCDEFGH"


class SkipRow(ValueError):
    """A source row without a usable gold answer (skipped and counted)."""


def _first(raw: dict, *keys: str, required: bool = True):
    for key in keys:
        if raw.get(key) not in (None, ""):
            return raw[key]
    if required:
        raise io.DataError(f"missing field '{keys[0]}'")
    return None


def _letter_index(answer, n: int) -> int:
    text = str(answer).strip().upper()
    if text in LETTERS[:n]:
        return LETTERS.index(text)
    if text.isdigit() and int(text) < n:
        return int(text)
    raise SkipRow(f"answer {answer!r} is not one of {list(LETTERS[:n])}")


def _options(raw: dict) -> list[str]:
    opts = [raw.get(f"option_{c}") for c in "abcdefgh"]
    return [str(o).strip() for o in opts if o not in (None, "")]


def fmt_arc(raw: dict, lang: str | None) -> dict:
    """m_arc: question + the options as continuations (harness `arc_*` style)."""
    choices = _options(raw) or list(raw["choices"]["text"])
    gold = choices[_letter_index(_first(raw, "answer", "answerKey"), len(choices))]
    return {
        "question": str(_first(raw, "instruction", "question")).strip(),
        "choices": choices,
        "label": gold,
    }


def fmt_mmlu(raw: dict, lang: str | None) -> dict:
    """Global-MMLU-Lite: question with lettered options; the letters are the choices."""
    options = [str(raw[f"option_{c}"]).strip() for c in "abcd"]
    gold = LETTERS[_letter_index(raw["answer"], 4)]
    row = {
        "question": str(_first(raw, "question")).strip(),
        "choices": list("ABCD"),
        "label": gold,
        "meta": {
            k: raw[k] for k in ("subject", "subject_category", "cultural_sensitivity_label") if k in raw
        },
    }
    row.update({f"option_{c}": o for c, o in zip("abcd", options, strict=True)})
    return row


def _wikihow(text: str) -> str:
    text = text.strip().replace(" [title]", ". ")
    return re.sub(r"\[.*?\]", "", text).replace("  ", " ")


def fmt_hellaswag(raw: dict, lang: str | None) -> dict:
    """m_hellaswag: activity + context; the endings are the continuations (harness style)."""
    if raw.get("label") in (None, ""):
        raise SkipRow("no gold ending")
    if raw.get("ctx_a") is not None:
        ctx = f"{raw['ctx_a']} {str(raw.get('ctx_b') or '').capitalize()}".strip()
    else:
        ctx = str(raw["ctx"])
    endings = [_wikihow(str(e)) for e in raw["endings"]]
    if any(not e for e in endings):
        raise SkipRow("an empty ending")
    return {
        "query": _wikihow(f"{raw.get('activity_label', '')}: {ctx}"),
        "choices": endings,
        "label": endings[int(raw["label"])],
    }


_ARRAY = re.compile(r"array\((\[.*?\])(?:\s*,\s*dtype=[^)]*)?\)", re.DOTALL)


def _mc_targets(value) -> dict:
    """{"choices", "labels"} of an mc1_targets field: a mapping, or its printed form (the aligned
    English release stores `{'choices': array([...], dtype=object), 'labels': array([...])}`)."""
    if isinstance(value, dict):
        return value
    return ast.literal_eval(_ARRAY.sub(r"\1", str(value).strip()))


def fmt_truthfulqa(raw: dict, lang: str | None) -> dict:
    """m_truthfulqa MC1: one true answer among the choices (flat or nested mc1 fields)."""
    if "mc1_targets_choices" in raw:
        choices, labels = raw["mc1_targets_choices"], raw["mc1_targets_labels"]
    else:
        targets = _mc_targets(raw["mc1_targets"])
        choices, labels = targets["choices"], targets["labels"]
    choices = [str(c).strip() for c in choices]
    if 1 not in list(labels) or any(not c for c in choices):
        raise SkipRow("no true answer or an empty choice")
    return {
        "question": str(_first(raw, "question")).strip(),
        "choices": choices,
        "label": choices[list(labels).index(1)],
    }


def fmt_mgsm(raw: dict, lang: str | None) -> dict:
    """MGSM: question -> final number (`answer_number`)."""
    answer = _first(raw, "answer_number", "answer")
    if isinstance(answer, float) and answer.is_integer():
        answer = int(answer)
    return {"question": str(_first(raw, "question")).strip(), "answer": str(answer)}


def fmt_sib200(raw: dict, lang: str | None) -> dict:
    """SIB-200: sentence -> one of 7 topics."""
    return {
        "text": str(_first(raw, "text")).strip(),
        "label": str(_first(raw, "category", "label")),
    }


# Connectives of lm-evaluation-harness's xcopa tasks: (cause, effect).
XCOPA_CONNECTORS = {
    "en": ("because", "therefore"),
    "et": ("sest", "seetõttu"),
    "ht": ("poukisa", "donk sa"),
    "id": ("karena", "maka"),
    "it": ("perché", "quindi"),
    "qu": ("imataq", "chaymi"),
    "sw": ("kwa sababu", "kwa hiyo"),
    "ta": ("காரணமாக", "எனவே"),
    "th": ("เพราะ", "ดังนั้น"),
    "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"),
    "zh": ("因为", "所以"),
}


def fmt_xcopa(raw: dict, lang: str | None) -> dict:
    """XCOPA: premise + connective ('because' / 'therefore'); the two alternatives continue it."""
    cause, effect = XCOPA_CONNECTORS.get(lang or "en", XCOPA_CONNECTORS["en"])
    connector = cause if raw["question"] == "cause" else effect
    premise = str(_first(raw, "premise")).strip()
    premise = premise[:-1] if premise[-1:] in ".。" else premise
    choices = [c[:1].lower() + c[1:] for c in (str(raw["choice1"]).strip(), str(raw["choice2"]).strip())]
    return {
        "premise": f"{premise} {connector}",
        "choices": choices,
        "label": choices[int(raw["label"])],
    }


# Where each format's item id comes from: (fields tried in order, ids numbered per split);
# no field present = the row number in the source table (parallel tables in every language).
ITEM_IDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "m_arc": (("id",), False),
    "global_mmlu_lite": (("sample_id", "id"), False),
    "m_hellaswag": (("id", "ind"), False),
    "m_truthfulqa": (("truth_id",), False),  # the release's synthetic row id; else the row number
    "mgsm": ((), False),
    "sib200": (("index_id", "id"), False),
    "xcopa": (("idx",), True),
}
FORMATS: dict[str, Callable[[dict, str | None], dict]] = {
    "m_arc": fmt_arc,
    "global_mmlu_lite": fmt_mmlu,
    "m_hellaswag": fmt_hellaswag,
    "m_truthfulqa": fmt_truthfulqa,
    "mgsm": fmt_mgsm,
    "sib200": fmt_sib200,
    "xcopa": fmt_xcopa,
}
