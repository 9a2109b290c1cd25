"""Long key lists in bounded pieces: one IN (...) list or multi-row statement per piece."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

_ValueT = TypeVar("_ValueT")

# Values per IN (...) list or multi-row statement; far below SQLite's and PostgreSQL's limits.
CHUNK = 5000


def chunks(values: Sequence[_ValueT]) -> Iterator[Sequence[_ValueT]]:
    """``values`` in slices of at most CHUNK."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
