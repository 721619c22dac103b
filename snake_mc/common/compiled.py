"""Whether this copy of the package has compiled its game yet: the first run on a machine compiles the rules, the
encoder and the search (numba, cached on disk), which takes a minute or more, and a listener should hear so at once
rather than sit through the silence; later runs load the cache in seconds."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def compiled_before() -> bool:
    """True when numba's on-disk cache holds compiled code of this package (in its __pycache__ folders, or in
    NUMBA_CACHE_DIR when that is set)."""
    place = os.environ.get("NUMBA_CACHE_DIR")
    roots = [Path(place)] if place else [PACKAGE]
    return any(next(root.rglob("*.nbi"), None) is not None for root in roots if root.is_dir())


def first_load_sentence() -> str:
    """A sentence for the start of a command that compiles the game; empty when the cache is already there."""
    if compiled_before():
        return ""
    return "This copy runs for the first time, so its game code is compiled first, in a minute or less."
