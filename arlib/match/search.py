"""Bounded subset-sum search: which open invoices add up to a receipt.

Bounded by a count of search nodes, never by a clock, so the same inputs give the same
answer on a loaded machine.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class _BudgetExceeded(Exception):
    pass


def subsets(
    amounts: list[int],
    target: int,
    tol: int,
    kmax: int,
    max_nodes: int,
    first_within: int = 0,
    limit: int = 2,
    kmin: int = 2,
) -> tuple[list[list[int]], bool]:
    """Combinations of kmin..kmax positive amounts summing into [target, target + tol], at most
    ``limit`` of them, each a sorted list of positions, in preference order (lexicographic by
    position) among those found; and whether the search was complete (False when
    ``max_nodes`` search nodes ran out first: a deterministic bound). With ``first_within``
    > 0 a combination must include one of the first ``first_within`` positions.

    The search runs over the amounts sorted ascending, so a branch stops as soon as the sum
    overshoots and is skipped when even the largest remaining amounts cannot reach."""
    n = len(amounts)
    hi = target + tol
    order = sorted(range(n), key=lambda k: (amounts[k], k))
    v = [amounts[k] for k in order]
    named = [k < first_within for k in order]
    pre = [0] * (n + 1)
    for i in range(n):
        pre[i + 1] = pre[i] + v[i]
    path: list[int] = []
    found: list[list[int]] = []
    nodes = 0

    def dfs(start: int, partial: int, depth: int, has_named: bool) -> bool:
        """True when the search should stop (enough solutions)."""
        nonlocal nodes
        slots = kmax - depth - 1  # picks still allowed after this one
        need = max(0, kmin - depth - 1)  # picks still required after this one
        if slots == 0:  # the last pick: a sorted search for what is missing, not a scan
            nodes += 1
            if nodes > max_nodes:
                raise _BudgetExceeded
            if depth + 1 < kmin:
                return False
            a = bisect_left(v, target - partial, start, n)
            for i in range(a, bisect_right(v, hi - partial, start, n)):
                if has_named or named[i] or not first_within:
                    found.append(sorted(order[k] for k in (*path, i)))
                    if len(found) >= limit:
                        return True
            return False
        for i in range(start, n - need):
            nodes += 1
            if nodes > max_nodes:
                raise _BudgetExceeded
            s = partial + v[i]
            if s + pre[i + 1 + need] - pre[i + 1] > hi:
                break  # even the smallest required picks overshoot
            hn = has_named or named[i]
            if s >= target and need == 0:
                if hn or not first_within:
                    found.append(sorted(order[k] for k in (*path, i)))
                    if len(found) >= limit:
                        return True
                continue
            if slots > 0 and s + pre[n] - pre[max(i + 1, n - slots)] >= target:
                path.append(i)
                if dfs(i + 1, s, depth + 1, hn):
                    return True
                path.pop()
        return False

    try:
        dfs(0, 0, 0, False)
        complete = True
    except _BudgetExceeded:
        complete = False
    return sorted(found), complete


def subset(
    amounts: list[int], target: int, tol: int, kmax: int, max_nodes: int, first_within: int = 0
) -> list[int] | None:
    """The first combination (see :func:`subsets`), or None."""
    found, _ = subsets(amounts, target, tol, kmax, max_nodes, first_within, limit=1)
    return found[0] if found else None
