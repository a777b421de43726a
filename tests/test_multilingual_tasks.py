"""Multilingual loader: local shared copies, aligned splits, hub code on local hub-shaped folders."""

import json
from pathlib import Path

import pytest
import yaml

from transfer_atlas import data, io
from transfer_atlas.config import card_overrides
from transfer_atlas.tasks import load_card
from transfer_atlas.tasks.multilingual import fmt_hellaswag, fmt_truthfulqa, fmt_xcopa


def build(spec):
    card = load_card(spec["task"], card_overrides(spec))
    return {
        split: data.to_records(rows, card, spec["name"], split)
        for split, rows in data.raw_splits(spec, card).items()
    }


def write_jsonl(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def fake_hub(root: Path, configs: dict[str, dict[str, list[dict]]]) -> str:
    """A folder laid out like a hub dataset repo (README configs, data/{config}/{split}.jsonl).
    The folder name is unique: `datasets` caches a local repo by folder name and config."""
    root = root.with_name(f"{root.name}_{root.parent.name}")
    meta = []
    for config, splits in configs.items():
        files = []
        for split, rows in splits.items():
            write_jsonl(root / "data" / config / f"{split}.jsonl", rows)
            files.append({"split": split, "path": f"data/{config}/{split}.jsonl"})
        meta.append({"config_name": config, "data_files": files})
    (root / "README.md").write_text("---\n" + yaml.safe_dump({"configs": meta}) + "---\n")
    return str(root)


# --- the offline tasks on the shared copies ------------------------------------------------


@pytest.mark.parametrize("task, n_train, n_eval", [("sib200", 12, 6), ("mgsm", 12, 6), ("xcopa", 100, 6)])
def test_shared_copies_load_with_aligned_splits(shared_datasets, task, n_train, n_eval):
    langs = ["en", "de"] if task != "xcopa" else ["it", "zh"]
    out = {}
    for lang in langs:
        spec = {
            "name": f"{task}.{lang}",
            "task": task,
            "language": lang,
            "path": str(shared_datasets / task),
            "n_train": 12,
            "n_eval": n_eval,
            "seed": 7,
        }
        if task == "xcopa":
            spec.pop("n_train")
        out[lang] = build(spec)
        assert len(out[lang]["train"]) == n_train and len(out[lang]["eval"]) == n_eval
        assert all(r["meta"]["language"] == lang for r in out[lang]["eval"])
    a, b = (out[lang] for lang in langs)
    assert [r["id"] for r in a["eval"]] == [r["id"] for r in b["eval"]]  # same items in every language
    assert not {r["id"] for r in a["train"]} & {r["id"] for r in b["eval"]}  # no leak across languages
    assert a["eval"][0]["prompt"] != b["eval"][0]["prompt"]
    if task == "mgsm":
        assert a["eval"][0]["label"] == b["eval"][0]["label"] and a["eval"][0]["label"].lstrip("-").isdigit()
        assert a["eval"][0]["target"] == " " + a["eval"][0]["label"]
    if task == "sib200":
        assert len(a["eval"][0]["choices"]) == 7 and a["eval"][0]["label"] in load_card("sib200").labels
    if task == "xcopa":
        assert len(a["eval"][0]["choices"]) == 2 and a["eval"][0]["label"] in [
            c.strip() for c in a["eval"][0]["choices"]
        ]


def test_lang_placeholder_and_one_table_holdout(shared_datasets):
    spec = {
        "name": "mgsm.zh",
        "task": "mgsm",
        "language": "zh",
        "path": str(shared_datasets / "mgsm" / "{lang}.jsonl"),
        "n_eval": 50,
        "seed": 1,
    }
    recs = build(spec)
    assert len(recs["eval"]) == 50 and len(recs["train"]) == 200  # 250 rows, hold-out of 50
    assert not {r["id"] for r in recs["train"]} & {r["id"] for r in recs["eval"]}


def test_seed_changes_the_held_out_items(shared_datasets):
    ids = []
    for seed in (1, 2):
        spec = {
            "name": "s",
            "task": "sib200",
            "language": "en",
            "path": str(shared_datasets / "sib200"),
            "n_train": 5,
            "n_eval": 5,
            "seed": seed,
        }
        ids.append([r["id"] for r in build(spec)["eval"]])
    assert ids[0] != ids[1]


# --- the four Donors and Recipients benchmarks, through the hub code on local folders ------


def arc_row(i, lang, answer="B"):
    return {
        "id": f"arc-{i}",
        "instruction": f"[{lang}] question {i}?",
        "option_a": "sun",
        "option_b": "moon",
        "option_c": "star",
        "option_d": "comet",
        "answer": answer,
    }


def test_m_arc_from_a_hub_shaped_folder(tmp_path):
    repo = fake_hub(
        tmp_path / "m_arc",
        {
            lang: {
                "train": [arc_row(i, lang) for i in range(6)],
                "test": [arc_row(i, lang) for i in range(10, 14)] + [arc_row(99, lang, "?")],
            }
            for lang in ("de", "en")
        },
    )
    spec = {"name": "arc.de", "task": "m_arc", "language": "de", "hub": {"id": repo, "revision": None}}
    recs = build(spec)
    assert len(recs["train"]) == 6 and len(recs["eval"]) == 4  # the row with answer '?' is skipped
    r = recs["eval"][0]
    assert r["prompt"].startswith("Question: [de] question") and r["prompt"].endswith("\nAnswer:")
    assert (
        r["choices"] == [" sun", " moon", " star", " comet"]
        and r["label"] == "moon"
        and r["target"] == " moon"
    )


def test_global_mmlu_letters_and_dev_split(tmp_path):
    def row(i):
        return {
            "sample_id": f"s{i}",
            "subject": "astronomy",
            "question": f"Q{i}",
            "option_a": "1",
            "option_b": "2",
            "option_c": "3",
            "option_d": "4",
            "answer": "C",
        }

    repo = fake_hub(
        tmp_path / "gmmlu", {"fr": {"dev": [row(i) for i in range(3)], "test": [row(i) for i in range(5, 9)]}}
    )
    recs = build(
        {
            "name": "mmlu.fr",
            "task": "global_mmlu_lite",
            "language": "fr",
            "hub": {"id": repo, "revision": None},
        }
    )
    r = recs["eval"][0]
    assert r["choices"] == [" A", " B", " C", " D"] and r["label"] == "C"
    assert "\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:" in r["prompt"] and r["meta"]["subject"] == "astronomy"
    assert len(recs["train"]) == 3


def hs_row(i, lang):
    return {
        "ind": i,
        "activity_label": "Cooking",
        "ctx_a": f"({lang}) A man cuts onions.",
        "ctx_b": "then he",
        "endings": ["fries them. [title] Done", "sleeps.", "sings.", "runs."],
        "label": "0",
    }


def test_m_hellaswag_holdout_and_language_override(tmp_path):
    main = fake_hub(tmp_path / "m_hs", {"de": {"val": [hs_row(i, "de") for i in range(10)]}})
    other = fake_hub(tmp_path / "zh_hs", {"zh": {"val": [hs_row(i, "zh") for i in range(10)]}})
    hub = {"id": main, "revision": None, "languages": {"zh": {"id": other, "revision": None}}}
    de = build({"name": "hs.de", "task": "m_hellaswag", "language": "de", "hub": hub, "n_eval": 3, "seed": 5})
    zh = build({"name": "hs.zh", "task": "m_hellaswag", "language": "zh", "hub": hub, "n_eval": 3, "seed": 5})
    assert len(de["eval"]) == 3 and len(de["train"]) == 7
    assert [r["id"] for r in de["eval"]] == [r["id"] for r in zh["eval"]]
    assert zh["eval"][0]["prompt"].startswith("Cooking: (zh) A man cuts onions. Then he")
    assert de["eval"][0]["label"] == "fries them.. Done" and de["eval"][0]["choices"][1] == " sleeps."


def tqa_hub(tmp_path, de_rows, en_rows):
    main = fake_hub(tmp_path / "tqa", {"de": {"val": de_rows}, "fr": {"val": de_rows}})
    en = fake_hub(tmp_path / "tqa_en", {"default": {"validation": en_rows}})
    en_hub = {
        "id": en,
        "config": None,
        "revision": None,
        "train_split": "validation",
        "eval_split": "validation",
    }
    return {"id": main, "revision": None, "languages": {"en": en_hub}}


def test_m_truthfulqa_flat_and_nested_fields(tmp_path):
    flat = {
        "question": "Is the earth flat?",
        "mc1_targets_choices": ["No.", "Yes."],
        "mc1_targets_labels": [1, 0],
    }
    nested = {"question": "Q", "mc1_targets": {"choices": ["a", "b", "c"], "labels": [0, 1, 0]}}
    hub = tqa_hub(tmp_path, [flat] * 5, [nested] * 5)
    de = build({"name": "t.de", "task": "m_truthfulqa", "language": "de", "hub": hub, "n_eval": 2})
    en_recs = build({"name": "t.en", "task": "m_truthfulqa", "language": "en", "hub": hub, "n_eval": 2})
    assert de["eval"][0]["prompt"] == "Q: Is the earth flat?\nA:" and de["eval"][0]["label"] == "No."
    assert en_recs["eval"][0]["label"] == "b" and len(en_recs["train"]) == 3
    # the aligned English release prints mc1_targets as a string with numpy arrays
    printed = "{'choices': array(['x', 'y'], dtype=object), 'labels': array([0, 1])}"
    assert fmt_truthfulqa({"question": "q", "mc1_targets": printed}, "en")["label"] == "y"


def leaks(splits: dict[str, dict[str, list[dict]]]) -> set[str]:
    """Eval item ids of any language that appear in any language's train split."""
    train = {r["id"] for out in splits.values() for r in out["train"]}
    return {r["id"] for out in splits.values() for r in out["eval"]} & train


def test_truthfulqa_english_eval_items_are_never_trained_in_another_language(tmp_path):
    """Row i is question i in every language; the translations carry an `id` field that the
    English release lacks, so ids must come from the row number in every language."""

    def rows(lang, with_id):
        return [
            {
                "question": f"[{lang}] question {i}",
                "mc1_targets_choices": ["true", "false"],
                "mc1_targets_labels": [1, 0],
                **({"id": f"okapi-{lang}-{i}"} if with_id else {}),
            }
            for i in range(20)
        ]

    hub = tqa_hub(tmp_path, rows("de", True), rows("en", False))
    spec = {"task": "m_truthfulqa", "hub": hub, "n_eval": 6, "seed": 42}
    out = {lang: build({**spec, "name": f"t.{lang}", "language": lang}) for lang in ("en", "de", "fr")}
    assert not leaks(out)
    question = {lang: {r["prompt"].split("question ")[1] for r in out[lang]["eval"]} for lang in out}
    trained = {lang: {r["prompt"].split("question ")[1] for r in out[lang]["train"]} for lang in out}
    assert question["en"] == question["de"] == question["fr"] and len(question["en"]) == 6
    assert not question["en"] & (trained["de"] | trained["fr"])  # by content, not only by id


def test_manifest_fixes_the_splits(tmp_path):
    manifest = tmp_path / "tqa.csv"
    manifest.write_text("split,id\ntrain,1\ntrain,4\ntrain,7\ntest,0\ntest,2\n")
    rows = [
        {"question": f"q{i}", "mc1_targets_choices": ["a", "b"], "mc1_targets_labels": [1, 0]}
        for i in range(9)
    ]
    hub = {**tqa_hub(tmp_path, rows, rows), "manifest": str(manifest)}
    recs = build({"name": "t.de", "task": "m_truthfulqa", "language": "de", "hub": hub, "seed": 3})
    assert sorted(r["id"] for r in recs["train"]) == ["1", "4", "7"]
    assert sorted(r["id"] for r in recs["eval"]) == ["0", "2"]
    manifest.write_text("split,id\ntrain,1\ntest,99\n")
    with pytest.raises(io.DataError, match=r"manifest .*tqa.csv: 1 eval ids not in the source"):
        build({"name": "t.de", "task": "m_truthfulqa", "language": "de", "hub": hub})


@pytest.mark.parametrize("task", ["mgsm", "sib200", "xcopa"])
def test_no_eval_item_of_one_language_is_in_any_train_split(shared_datasets, task):
    """Every language of the local copy: eval ids never appear in any language's train split,
    and every language holds out the same items."""
    langs = sorted({p.name.split(".")[0] for p in (shared_datasets / task).glob("*.jsonl")})
    out = {}
    for lang in langs:
        spec = {"name": f"{task}.{lang}", "task": task, "language": lang, "path": str(shared_datasets / task)}
        out[lang] = build({**spec, "n_eval": 40, "seed": 11})
    assert len(out) >= 2 and not leaks(out)
    assert len({tuple(r["id"] for r in o["eval"]) for o in out.values()}) == 1
    if task == "xcopa":  # idx is numbered per split: the 100 validation items are not test items 0-99
        assert all(r["id"].startswith("train/") for r in out[langs[0]]["train"])


def test_save_to_disk_folder_per_language(tmp_path):
    import datasets

    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([arc_row(i, "it") for i in range(4)]),
            "test": datasets.Dataset.from_list([arc_row(i, "it") for i in range(4, 7)]),
        }
    )
    dd.save_to_disk(str(tmp_path / "arc" / "it"))
    recs = build({"name": "arc.it", "task": "m_arc", "language": "it", "path": str(tmp_path / "arc")})
    assert len(recs["train"]) == 4 and len(recs["eval"]) == 3


def test_structural_error_names_source_and_row(tmp_path):
    write_jsonl(tmp_path / "en.train.jsonl", [{"text": "x", "category": "travel"}, {"category": "travel"}])
    write_jsonl(tmp_path / "en.test.jsonl", [{"text": "y", "category": "travel"}])
    with pytest.raises(io.DataError, match=r"en.train.jsonl: row 1: missing field 'text'"):
        build({"name": "s", "task": "sib200", "language": "en", "path": str(tmp_path)})


def test_formats_by_hand():
    row = fmt_xcopa(
        {
            "premise": "L'uomo ha aperto il rubinetto.",
            "choice1": "Il bagno si è riempito.",
            "choice2": "L'acqua è uscita.",
            "question": "effect",
            "label": 1,
            "idx": 3,
        },
        "it",
    )
    assert row["premise"] == "L'uomo ha aperto il rubinetto quindi" and row["label"] == "l'acqua è uscita."
    with pytest.raises(ValueError):
        fmt_hellaswag({**hs_row(0, "en"), "label": ""}, "en")


def test_to_records_multiple_choice_label_checks():
    card = load_card("m_arc")
    rec = data.to_records([{"question": "q", "choices": [" a ", "b"], "label": 1}], card, "x", "eval")[0]
    assert rec["choices"] == [" a", " b"] and rec["label"] == "b" and rec["target"] == " b"
    with pytest.raises(io.DataError, match=r"row 0: field 'label': 'c' is not one of the row's choices"):
        data.to_records([{"question": "q", "choices": ["a", "b"], "label": "c"}], card, "x", "eval")
    with pytest.raises(io.DataError, match=r"row 0: missing field 'choices'"):
        data.to_records([{"question": "q", "label": "a"}], card, "x", "eval")
