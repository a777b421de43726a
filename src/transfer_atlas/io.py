"""Atomic, self-describing I/O at the edges of the workflow.

Every writer here writes to a temporary file in the destination folder and renames it
into place, so a killed job never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd


class DataError(ValueError):
    """Bad input data; the message names the file, row and field."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success only.
    Refuses a `path` that exists and is not a regular file (a device such as /dev/null, a
    folder): renaming onto it would replace it."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: exists and is not a regular file; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def aside_path(path: str | os.PathLike) -> Path:
    """Where `atomic_dir` keeps the previous folder while the new one is renamed in."""
    path = Path(path)
    return path.with_name(f".{path.name}.old")


def set_aside(path: Path) -> Path | None:
    """Rename an existing folder `path` to its aside path (replacing an older aside copy)."""
    aside = aside_path(path)
    if aside.exists():
        shutil.rmtree(aside)
    if not path.exists():
        return None
    os.replace(path, aside)
    return aside


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it replaces `path` on success only.

    The old folder is renamed aside, the new one renamed in, then the old one deleted: at
    every instant either `path` or `aside_path(path)` is a complete folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        aside = set_aside(path)
        os.replace(tmp, path)
        if aside is not None:
            shutil.rmtree(aside)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
            n += 1
    return n


def write_csv(path: str | os.PathLike, frame: pd.DataFrame, index: bool = False) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=index)


def require_columns(frame: pd.DataFrame, required: Iterable[str], path) -> pd.DataFrame:
    """`frame` unchanged, or DataError naming the file and the missing columns."""
    required = list(required)
    missing = [c for c in required if c not in frame]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing} (needs {required})")
    return frame


def read_csv(path, required: Iterable[str], text_columns: Iterable[str] = (), sep: str = ",") -> pd.DataFrame:
    """A CSV/TSV with its `required` columns checked; `text_columns` are read as strings and
    only empty fields count as missing (so language codes such as `nan` or `NA` stay text)."""
    dtype = {c: str for c in text_columns}
    frame = pd.read_csv(path, sep=sep, dtype=dtype, keep_default_na=False, na_values=[""])
    return require_columns(frame, required, path)


def save_figure(path: str | os.PathLike, fig) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)


def read_json(path: str | os.PathLike) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: line {err.lineno}: invalid JSON ({err.msg})") from None


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> list[dict]:
    """Read a JSONL file; every row must be an object holding the `required` fields."""
    required = tuple(required)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: line {lineno}: invalid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {lineno}: expected a JSON object")
            for field in required:
                if field not in row or row[field] is None:
                    raise DataError(f"{path}: line {lineno}: missing field '{field}'")
            rows.append(row)
    return rows


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def setup_logging(log_path: str | None = None) -> None:
    """Route the package's logging to a Snakemake log file (and stderr)."""
    import logging

    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
