"""Numpy helpers for rules that work out in bulk what they would otherwise do row by row:
distinct values, spans, runs and running sums, sorted searches within groups."""

from __future__ import annotations

import numpy as np

NONE = np.zeros(0, dtype=np.int64)


def distinct(a: np.ndarray) -> np.ndarray:
    """The distinct values of ``a``, ascending (a sort: numpy's hashing unique is slower)."""
    a = np.sort(a)
    return a[np.append(True, a[1:] != a[:-1])] if a.size else a


def concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else NONE


def spans(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, k) for every k in ``start[row]:stop[row]``, by row then k."""
    n = np.maximum(stop - start, 0)
    row = np.repeat(np.arange(n.size), n)
    return row, np.repeat(start, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)


def runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal consecutive ``key``: the first row of each run, and each row's run."""
    new = np.append(True, key[1:] != key[:-1])
    return np.flatnonzero(new), np.cumsum(new) - 1


def sum_before(x: np.ndarray, first: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Per row the sum of ``x`` over the earlier rows of its run (:func:`runs`). Exact
    while a run's own sums fit an Int64: the running total of all rows may wrap, the
    difference does not."""
    upto = np.cumsum(x) - x
    return upto - upto[first][run]


class Grouped:
    """Values in groups (integers 0, 1, ...), sorted for searches within a group."""

    def __init__(self, group: np.ndarray, value: np.ndarray):
        self.values = distinct(value)
        self.width = self.values.size + 1
        key = group * self.width + np.searchsorted(self.values, value)
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def between(self, group: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        """(query, row) for every row of the query's group with a value in [lo, hi]."""
        g = group * self.width
        a = np.searchsorted(self.key, g + np.searchsorted(self.values, lo, side="left"))
        b = np.searchsorted(self.key, g + np.searchsorted(self.values, hi, side="right"))
        query, at = spans(a, b)
        return query, self.order[at]
