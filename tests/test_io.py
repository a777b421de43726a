"""transfer_atlas.io: atomic writers never replace what is not a regular file."""

import os

import pandas as pd
import pytest

from transfer_atlas import io


def test_atomic_write_refuses_a_non_regular_target(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        io.write_csv(fifo, pd.DataFrame({"a": [1]}))
    assert fifo.is_fifo()
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        io.write_json(folder, {"a": 1})
    assert folder.is_dir() and not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_atomic_write_replaces_a_regular_file(tmp_path):
    path = tmp_path / "x.json"
    io.write_json(path, {"a": 1})
    io.write_json(path, {"a": 2})
    assert io.read_json(path) == {"a": 2}
