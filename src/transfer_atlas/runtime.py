"""What every workflow script does first: logging to the rule's log, CPU threads."""

from __future__ import annotations


def setup(smk) -> None:
    """Route logging to `smk.log[0]` and use `smk.threads` CPU threads."""
    import torch

    from transfer_atlas.io import setup_logging

    setup_logging(smk.log[0] if smk.log else None)
    torch.set_num_threads(max(1, int(smk.threads)))
