"""What every workflow script does first: logging to the rule's log, CPU threads.

Analysis-only scripts never import torch: the torch thread count is set directly only when
the script has already imported torch (the model scripts import it through their module);
otherwise OMP_NUM_THREADS / MKL_NUM_THREADS tell a later import (e.g. embeddings) and numpy.
"""

from __future__ import annotations

import os
import sys


def setup(smk) -> None:
    """Route logging to `smk.log[0]` and use `smk.threads` CPU threads (torch, if loaded)."""
    from transfer_atlas.io import setup_logging

    setup_logging(smk.log[0] if smk.log else None)
    threads = max(1, int(smk.threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
