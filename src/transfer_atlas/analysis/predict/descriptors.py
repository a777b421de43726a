"""Descriptors of every dataset (sources and candidates) from what the workflow computes.

Blocks (config `analysis.predict.descriptors`), columns prefixed by their block:
  profile    profile.json (rule profile_data), training split: `profile:n_train`,
             `profile:label_entropy` (bits), `profile:n_labels`, `profile:majority_share`
             (fraction), `profile:prompt_tokens` / `profile:target_tokens` (mean tokens of
             the model's tokenizer; words when the model has no token counts)
  task       one-hot task type of the task card (`task:classify`, ...)
  language   one-hot `language` of the dataset entry (`language:de`, ...; `und` when unset)
             and, from resources/languages.csv when given, `language:resource_class` (Joshi
             et al. class 0-5) and one-hot family and script (`family:...`, `script:...`);
             languages without metadata get the mean class and no family or script
  style      the spaCy style features (style_features.csv: POS and dependency-relation
             fractions, lengths, punctuation, digits, type/token ratio): `style:<feature>`
  semantic   cosine of the dataset's mean prompt embedding with every dataset's
             (semantic_similarity.csv): `semantic:<dataset>`
  base       the base model's score on the dataset as a target (points; missing ->
             the mean over the other datasets)
Columns constant over the datasets are dropped (they carry nothing).
"""

from __future__ import annotations

import math

import pandas as pd

from transfer_atlas import io

BLOCKS = ("profile", "task", "language", "style", "semantic", "base")


def profile_row(profile: dict, model: str) -> dict[str, float]:
    """The profile block of one dataset from its profile.json."""
    train = profile["splits"]["train"]
    counts = {k: v for k, v in (train.get("label_distribution") or {}).items() if k not in (None, "None")}
    total = sum(counts.values())
    shares = [c / total for c in counts.values()] if total else []
    tokens = (train.get("tokens") or {}).get(model)
    prompt = tokens["prompt"] if tokens else train["prompt_words"]
    target = tokens["target"] if tokens else train["target_words"]
    return {
        "profile:n_train": float(train["n"]),
        "profile:label_entropy": -sum(p * math.log2(p) for p in shares if p > 0),
        "profile:n_labels": float(len(shares)),
        "profile:majority_share": max(shares) if shares else 1.0,
        "profile:prompt_tokens": float(prompt.get("mean", 0.0)),
        "profile:target_tokens": float(target.get("mean", 0.0)),
    }


def one_hot(values: dict[str, str], prefix: str) -> pd.DataFrame:
    frame = pd.get_dummies(pd.Series(values, name=prefix), prefix=prefix, prefix_sep=":", dtype=float)
    return frame


def language_metadata(langs: dict[str, str], languages: pd.DataFrame) -> pd.DataFrame:
    """Resource class (0-5) and one-hot family and script of each dataset's language
    (`languages` = resources/languages.csv indexed by ISO code)."""
    meta = languages.reindex(list(langs.values()))
    meta.index = list(langs)
    frame = pd.DataFrame({"language:resource_class": meta["resource_class"].astype(float)}, index=list(langs))
    for column in ("family", "script"):
        known = meta[column].dropna().to_dict()
        frame = frame.join(one_hot(known, column).reindex(list(langs)).fillna(0.0))
    return frame


def descriptor_table(
    datasets: list[str],
    blocks: list[str],
    model: str,
    profiles: dict[str, str] | None = None,
    roles: dict[str, dict] | None = None,
    style_csv: str | None = None,
    semantic_csv: str | None = None,
    base_scores: pd.Series | None = None,
    languages: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """datasets x descriptor columns (see module doc) of the requested `blocks`."""
    parts = []
    if "profile" in blocks and profiles:
        parts.append(pd.DataFrame({d: profile_row(io.read_json(profiles[d]), model) for d in datasets}).T)
    if "task" in blocks and roles:
        parts.append(one_hot({d: roles[d]["type"] for d in datasets}, "task"))
    if "language" in blocks and roles:
        langs = {d: roles[d].get("language") or "und" for d in datasets}
        parts.append(one_hot(langs, "language"))
        if languages is not None:
            parts.append(language_metadata(langs, languages))
    for block, path in (("style", style_csv), ("semantic", semantic_csv)):
        if block in blocks and path:
            frame = pd.read_csv(path, index_col=0)
            missing = [d for d in datasets if d not in frame.index]
            if missing:
                raise io.DataError(f"{path}: no row for datasets {missing}")
            parts.append(frame.loc[datasets].add_prefix(f"{block}:"))
    if "base" in blocks and base_scores is not None:
        base = base_scores.reindex(datasets).astype(float)
        parts.append(base.fillna(base.mean()).fillna(0.0).to_frame("base:score"))
    table = pd.concat([p.reindex(datasets) for p in parts], axis=1) if parts else pd.DataFrame(index=datasets)
    table = table.astype(float).fillna(table.mean()).fillna(0.0)
    return table.loc[:, table.nunique() > 1].rename_axis("dataset")
