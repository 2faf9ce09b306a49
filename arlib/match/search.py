"""Bounded subset-sum search: which open invoices add up to a receipt.

Bounded by a count of search nodes, never by a clock, so the same inputs give the same
answer on a loaded machine. :func:`subsets` searches one list; :func:`subsets_many` gives
the same answers for many lists at once (numpy, for the rules that search thousands).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np


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


# ---------------------------------------------------------------------------------------
# many searches at once
#
# The same search, node for node, for many problems together (numpy instead of a Python
# recursion per problem). The search tree is the one ``subsets`` walks: a loop per depth
# over the positions after the last pick. Its nodes are counted in the order ``subsets``
# visits them (a node's *rank*), so the node budget and the ``limit`` cut it where
# ``subsets`` stops: a solution counts when its node's rank is within ``max_nodes``.
#
# The loops down to depth kmax - 3 are listed node by node, level by level: the root loop's
# iterations in batches (one at first, doubling), the nodes above depth kmax - 3 in slices
# in the order the search meets them (a few at first, doubling) with the children of
# depth kmax - 3 listed below one slice at a time, so that a problem whose budget runs out
# early lists little beyond where it stops. The loop at depth kmax - 2 (one
# pick left after it) is counted in closed form with sorted searches: its iterations run
# up to the first amount that overshoots, its solutions are the amounts equal to what is
# missing and the positions that descend to the last pick form one range. The last pick is
# a sorted search per node (for exact sums a bit filter of each row's amounts first).

_BULK_MAX_K = 5  # deeper searches (a memo counting six or more invoices) run one by one
_FILTER_WORDS = 16  # 64 * 16 buckets of a row's amounts, to skip most last-pick searches
_take = np.ndarray.take  # the method itself: no per-call wrapper


def subsets_many(
    values: np.ndarray,
    offsets: np.ndarray,
    target: np.ndarray | int,
    tol: np.ndarray | int,
    kmax: np.ndarray | int,
    max_nodes: int,
    first_within: np.ndarray | int = 0,
    kmin: np.ndarray | int = 2,
    limit: int = 2,
) -> tuple[dict[int, list[list[int]]], np.ndarray]:
    """:func:`subsets` of each problem ``p`` (amounts ``values[offsets[p]:offsets[p + 1]]``,
    the other arguments per problem or shared), identical to calling :func:`subsets` one by
    one: the combinations found (by problem, only the problems with some) and whether each
    search was complete."""
    values = np.asarray(values, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    P = offsets.size - 1

    def per_problem(x: np.ndarray | int) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.int64), (P,)))

    target, tol, kmax = per_problem(target), per_problem(tol), per_problem(kmax)
    first_within, kmin = per_problem(first_within), per_problem(kmin)
    found: dict[int, list[list[int]]] = {}
    complete = np.zeros(P, dtype=bool)
    n = np.diff(offsets)
    bulk = (kmax >= 1) & (kmax <= _BULK_MAX_K) & (kmin >= 1) & (kmin <= kmax) & (n > 0)
    rows = _nonzero(n > 0)
    if rows.size:  # positive amounts only (the bounds assume it)
        row_min = np.zeros(P, dtype=np.int64)
        row_min[rows] = np.minimum.reduceat(values, offsets[rows])
        bulk &= row_min > 0
    for part in _parts(_nonzero(bulk), values, offsets, target + tol, kmax):
        m = _take(n, part)
        sub_off = np.zeros(part.size + 1, dtype=np.int64)
        np.cumsum(m, out=sub_off[1:])
        idx = np.repeat(_take(offsets, part) - sub_off[:-1], m) + np.arange(sub_off[-1])
        rows_ = _Rows(
            _take(values, idx),
            sub_off,
            _take(target, part),
            _take(target + tol, part),
            _take(kmin, part),
            _take(kmax, part),
            _take(first_within, part),
        )
        sub_found: dict[int, list[list[int]]] = {}
        sub_complete = np.zeros(part.size, dtype=bool)
        for k in range(1, _BULK_MAX_K + 1):
            for named in (False, True):
                p = _nonzero((rows_.kmax == k) & (rows_.fw == named))
                if p.size:
                    _search(rows_, p, k, max_nodes, limit, named, sub_found, sub_complete)
        for t, combos in sub_found.items():
            found[int(part[t])] = sorted(combos)
        complete[part] = sub_complete
    for g in _nonzero(~bulk).tolist():
        combos, complete[g] = subsets(
            values[offsets[g] : offsets[g + 1]].tolist(),
            int(target[g]),
            int(tol[g]),
            int(kmax[g]),
            max_nodes,
            int(first_within[g]),
            limit,
            int(kmin[g]),
        )
        if combos:
            found[g] = combos
    return found, complete


def _parts(sel: np.ndarray, values, offsets, hi, kmax) -> list[np.ndarray]:
    """``sel`` in parts small enough that row number x key span stays within int64."""
    if sel.size == 0:
        return []
    span = int(values.max(initial=0)) * int(kmax.max(initial=0)) + int(np.abs(hi).max()) + 3
    per = max(1, (1 << 62) // span)
    return [sel[k : k + per] for k in range(0, sel.size, per)]


def _nonzero(mask: np.ndarray) -> np.ndarray:
    """Positions where the 1-d ``mask`` holds."""
    return mask.nonzero()[0]


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts c_k: owner k repeated c_k times, and 0 .. c_k - 1 for each owner."""
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    start = np.cumsum(counts)
    start -= counts
    k = np.arange(owner.size, dtype=np.int64)
    k -= _take(start, owner)
    return owner, k


def _before_in_run(group: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over the earlier entries of each entry's run of equal ``group``."""
    c = np.cumsum(x)
    if x.size == 0:
        return c
    c -= x
    first = np.empty(x.size, dtype=bool)
    first[0] = True
    np.not_equal(group[1:], group[:-1], out=first[1:])
    run = np.cumsum(first)
    run -= 1
    return c - _take(_take(c, _nonzero(first)), run)


class _Rows:
    """The problems' amounts sorted as :func:`subsets` sorts them (ascending, ties by
    position), with prefix sums and search keys: row ``p`` of window length ``m`` holds
    ``p * big`` plus the sum of the ``m`` amounts from each position, so one sorted search
    over all rows finds a position within a row."""

    def __init__(self, values, offsets, target, hi, kmin, kmax, first_within):
        P = offsets.size - 1
        self.n = n = np.diff(offsets)
        self.off = off = offsets[:-1]
        self.row = row = np.repeat(np.arange(P, dtype=np.int64), n)
        self.loc = loc = np.arange(values.size, dtype=np.int64) - _take(off, row)
        order = np.lexsort((loc, values, row))
        self.v = v = _take(values, order)
        self.pos = _take(loc, order)  # position in the caller's list
        self.target, self.hi, self.kmin, self.kmax = target, hi, kmin, kmax
        self.fw = first_within > 0
        self.named = self.pos < _take(first_within, row)
        self.poff = off + np.arange(P, dtype=np.int64)  # rows of n + 1 prefix sums
        pre = np.zeros(values.size + P, dtype=np.int64)
        c = np.cumsum(v)
        pre[_take(self.poff, row) + loc + 1] = c - _take(c - v, _take(off, row))
        self.pre = pre
        self.vlast = _take(v, off + n - 1)
        end = np.where(self.named, np.arange(values.size, dtype=np.int64), values.size)
        nxt = np.minimum.accumulate(end[::-1])[::-1]
        self.nn = np.minimum(nxt, _take(off + n, row)) - _take(off, row)  # next named
        self.big = int(v.max()) * int(kmax.max()) + int(np.abs(hi).max()) + 3
        self.koff = np.arange(P, dtype=np.int64) * self.big
        self._keys = {1: _take(self.koff, row) + v}
        buckets = 64 * _FILTER_WORDS
        h = v % buckets
        self.bits = np.zeros(P * _FILTER_WORDS, dtype=np.uint64)
        np.bitwise_or.at(
            self.bits,
            row * _FILTER_WORDS + (h >> 6),
            np.left_shift(np.uint64(1), (h & 63).astype(np.uint64)),
        )
        pend = _take(pre, self.poff + n)
        #: the sum of the m largest amounts of each row (what m more picks can add at most)
        self.top = [
            pend - _take(pre, self.poff + np.maximum(n - m, 0)) for m in range(_BULK_MAX_K + 1)
        ]

    def keys(self, m: int) -> np.ndarray:
        k = self._keys.get(m)
        if k is None:
            ok = self.loc + m <= _take(self.n, self.row)
            w = np.full(self.v.size, self.big - 1, dtype=np.int64)
            at = (_take(self.poff, self.row) + self.loc)[ok]
            w[ok] = _take(self.pre, at + m) - _take(self.pre, at)
            k = self._keys[m] = _take(self.koff, self.row) + w
        return k

    def first(self, m, key, off, lo):
        """First position j >= lo whose m amounts from j sum to at least the threshold in
        ``key`` (row offset + threshold); past the row's valid positions if none."""
        if np.ndim(m) == 0:
            j = np.searchsorted(self.keys(int(m)), key)
        else:
            j = np.empty(key.size, dtype=np.int64)
            for mm in np.unique(m).tolist():
                w = _nonzero(m == mm)
                j[w] = np.searchsorted(self.keys(mm), _take(key, w))
        j -= off
        np.maximum(j, lo, out=j)
        return j

    def next_named(self, off, n, c):
        """First named position >= c (n if none)."""
        out = n.copy()
        ok = _nonzero(c < n)
        out[ok] = _take(self.nn, _take(off, ok) + _take(c, ok))
        return out

    def may_hold(self, p, amount):
        """False where row p surely holds no such amount."""
        h = amount % (64 * _FILTER_WORDS)
        word = _take(self.bits, p * _FILTER_WORDS + (h >> 6))
        return ((word >> (h & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)


class _Found:
    """Solutions met: problem, rank of the node, order within a last pick, and where the
    node sits (explicit level and index, -1 for none) plus up to two more positions."""

    def __init__(self) -> None:
        self.parts: list[tuple] = []

    def add(self, p, rank, sub, level, node, i=None, x=None) -> None:
        if p.size:
            none = np.full(p.size, -1, dtype=np.int64)
            self.parts.append(
                (p, rank, sub, level, node, none if i is None else i, none if x is None else x)
            )


def _last_loop(R, p, S, j, need, exact):
    """The loops with one pick left after this one (partial sum S, first position j):
    their node count and the ranges that matter (solutions [slo, shi), descents to the
    last pick [dlo, dhi))."""
    n, off, koff, tg = (_take(R.n, p), _take(R.off, p), _take(R.koff, p), _take(R.target, p))
    endit = n - need
    key = koff + tg - S
    e0 = R.first(1, key, off, j)
    if exact and not need.any():  # the first amount beyond the target is e0 unless equal
        b = e0.copy()
        eq = _nonzero(e0 < n)
        eq = eq[_take(R.v, _take(off, eq) + _take(e0, eq)) == _take(tg - S, eq)]
        if eq.size:
            b[eq] = R.first(1, _take(key, eq) + 1, _take(off, eq), _take(j, eq))
    else:
        b = R.first(need + 1, koff + _take(R.hi, p) - S + 1, off, j)
    np.minimum(b, endit, out=b)
    iters = np.minimum(b + 1, endit)
    iters -= j
    np.maximum(iters, 0, out=iters)
    shi = np.maximum(b, j)
    d0 = R.first(1, key - _take(R.vlast, p), off, j)
    zero = need == 0
    np.minimum(e0, shi, out=e0)
    dhi = np.where(zero, np.minimum(e0, n - 1), shi)
    np.maximum(dhi, j, out=dhi)
    dlo = np.minimum(d0, dhi)
    slo = np.where(zero, e0, shi)
    return iters + (dhi - dlo), slo, shi, dlo, dhi


def _last_loop_found(R, F, p, S, H, j, loops, rank0, level, node, max_nodes, limit, named):
    """Solutions in the loops of :func:`_last_loop` and their last picks (rank0: the rank
    of the node each loop hangs below)."""
    _, slo, shi, dlo, dhi = loops
    has = _nonzero(slo < shi)
    if has.size:
        c, hi_ = _take(slo, has), _take(shi, has)
        if named:
            g = _take(p, has)
            off, n = _take(R.off, g), _take(R.n, g)
            free = _take(H, has) | ~_take(R.fw, g)
            c = np.where(free, c, R.next_named(off, n, c))
        for _ in range(limit):
            ok = _nonzero(c < hi_)
            if ok.size == 0:
                break
            k, i = _take(has, ok), _take(c, ok)
            dl = _take(dlo, k)
            rank = _take(rank0, k) + i - _take(j, k) + 1 + np.clip(i - dl, 0, _take(dhi, k) - dl)
            F.add(_take(p, k), rank, 0, level, _take(node, k), i=i)
            c = c + 1 if not named else np.where(free, c + 1, R.next_named(off, n, c + 1))
    # last picks below [dlo, dhi) whose node is within the budget
    # (the leaf below i has rank rank0 + (i - j + 1) + (i - dlo) + 1)
    cnt = np.minimum(dhi, (max_nodes - rank0 + j + dlo - 2) // 2 + 1)
    cnt -= dlo
    np.maximum(cnt, 0, out=cnt)
    owner, k = _ragged(cnt)
    if owner.size == 0:
        return
    g = _take(p, owner)
    i = _take(dlo, owner)
    i += k
    off = _take(R.off, g)
    s = _take(S, owner) + _take(R.v, off + i)
    missing = _take(R.target, g) - s
    hi = _take(R.hi, g)
    maybe = R.may_hold(g, missing)
    maybe |= hi != _take(R.target, g)  # a range of sums: no filter
    cand = _nonzero(maybe)
    if cand.size == 0:
        return
    owner, g, i, off, s, missing, hi = (_take(a, cand) for a in (owner, g, i, off, s, missing, hi))
    n = _take(R.n, g)
    rank = _take(rank0, owner) + (i - _take(j, owner) + 1) + (i - _take(dlo, owner)) + 1
    x = R.first(1, _take(R.koff, g) + missing, off, i + 1)
    if named:
        free = _take(H, owner) | _take(R.named, off + i) | ~_take(R.fw, g)
        x = np.where(free, x, R.next_named(off, n, x))
    room = hi - s
    nd = _take(node, owner)
    for sub in range(limit):
        ok = _nonzero(x < n)
        ok = ok[_take(R.v, _take(off, ok) + _take(x, ok)) <= _take(room, ok)]
        if ok.size == 0:
            break
        F.add(
            _take(g, ok), _take(rank, ok), sub, level, _take(nd, ok), i=_take(i, ok), x=_take(x, ok)
        )
        x = x + 1 if not named else np.where(free, x + 1, R.next_named(off, n, x + 1))


def _loop_count(R, p, s, j, need):
    """Iterations of the loops from position j after partial sum s (the one that
    overshoots included)."""
    key = _take(R.koff, p) + _take(R.hi, p) - s + 1
    b = R.first(need + 1, key, _take(R.off, p), j)
    c = np.minimum(b + 1, _take(R.n, p) - need)
    c -= j
    np.maximum(c, 0, out=c)
    return c


def _search(R, p, K, max_nodes, limit, named, found, complete):
    """The problems ``p`` (rows of R), all with kmax K."""
    P = p.size
    zero = np.zeros(P, dtype=np.int64)
    exact = bool((_take(R.hi, p) == _take(R.target, p)).all())
    picks: list[tuple] = []
    if K == 1:  # the root is the last pick
        F = _Found()
        if max_nodes >= 1:
            off, n = _take(R.off, p), _take(R.n, p)
            x = R.first(1, _take(R.koff, p) + _take(R.target, p), off, zero)
            free = ~_take(R.fw, p)
            x = np.where(free, x, R.next_named(off, n, x))
            hi, allowed = _take(R.hi, p), _take(R.kmin, p) <= 1
            for sub in range(limit):
                ok = _nonzero((x < n) & allowed)
                ok = ok[_take(R.v, _take(off, ok) + _take(x, ok)) <= _take(hi, ok)]
                F.add(_take(p, ok), np.ones(ok.size, dtype=np.int64), sub, -1, ok, x=_take(x, ok))
                x = np.where(free, x + 1, R.next_named(off, n, x + 1))
        _resolve(F, None, picks)
        _finish(
            R,
            picks,
            p,
            np.ones(P, dtype=np.int64),
            np.ones(P, dtype=bool),
            max_nodes,
            limit,
            found,
            complete,
        )
        return
    if K == 2:  # the root loop is the last loop
        F = _Found()
        loops = _last_loop(R, p, zero, zero, np.maximum(_take(R.kmin, p) - 1, 0), exact)
        _last_loop_found(
            R,
            F,
            p,
            zero,
            np.zeros(P, dtype=bool),
            zero,
            loops,
            zero,
            -1,
            zero,
            max_nodes,
            limit,
            named,
        )
        _resolve(F, None, picks)
        _finish(R, picks, p, loops[0], np.ones(P, dtype=bool), max_nodes, limit, found, complete)
        return
    L = K - 2  # explicit levels: depths 0 .. K - 3
    roots = _loop_count(R, p, zero, zero, np.maximum(_take(R.kmin, p) - 1, 0))
    done_roots = np.zeros(P, dtype=np.int64)
    small = _take(R.n, p) <= 12
    batch = np.where(small, roots, 1)
    nodes = np.zeros(P, dtype=np.int64)
    finished = np.zeros(P, dtype=bool)
    active = np.arange(P, dtype=np.int64)
    while active.size:
        a = active
        take_ = np.minimum(_take(batch, a), _take(roots, a) - _take(done_roots, a))
        q, k = _ragged(take_)  # q: the node's problem, as an index into a
        g = _take(_take(p, a), q)
        i = _take(_take(done_roots, a), q) + k
        node = {"q": q, "g": g, "i": i, "S": None, "H": None, "par": None}
        # the levels above the last explicit one, whole; the last one in slices below
        lv = []
        for d in range(max(L - 1, 1)):
            lv.append(_level(R, K, d, node, named))
            if d < L - 2:
                node = _children(R, K, d, lv[d], named)
        if L == 1:
            lv[0]["loops"] = _last(R, K, 0, lv[0], exact)
            sizes = np.ones(lv[0]["i"].size, dtype=np.int64)
            sizes[lv[0]["desc"]] += lv[0]["loops"][0]
            ranks = _take(_take(nodes, a), q) + 1 + _before_in_run(q, sizes)
            F = _Found()
            _level_found(R, F, lv, 0, ranks, None, max_nodes, limit, named)
            _resolve(F, ([lv[0]["i"]], [None]), picks)
            total = np.bincount(q, weights=sizes, minlength=a.size).astype(np.int64)
            total += _take(nodes, a)
            stopped = np.zeros(a.size, dtype=bool)
        else:
            total, stopped = _slices(
                R, K, lv, a, _take(nodes, a), small, p, picks, max_nodes, limit, named, exact
            )
        nodes[a] = total
        done_roots[a] += take_
        end = _take(done_roots, a) >= _take(roots, a)
        finished[a[end & ~stopped]] = True
        stop = (
            end | stopped | (total > max_nodes) | (_take(_count(picks, p, max_nodes), a) >= limit)
        )
        batch[a] *= 2
        active = a[~stop]
    _finish(R, picks, p, nodes, finished, max_nodes, limit, found, complete)


def _level(R, K, d, node, named):
    """The nodes of one explicit level (depth d): sum so far, whether named, which are
    solutions (those that count) and which descend."""
    q, g, i, S, H = node["q"], node["g"], node["i"], node["S"], node["H"]
    n, off = _take(R.n, g), _take(R.off, g)
    tg, km = _take(R.target, g), _take(R.kmin, g)
    need = np.maximum(km - d - 1, 0)
    slots = K - d - 1
    vi = _take(R.v, off + i)
    s = vi if S is None else S + vi
    if need.any():
        poff = _take(R.poff, g)
        w = _take(R.pre, poff + i + 1 + need) - _take(R.pre, poff + i + 1)
        overshoots = s + w > _take(R.hi, g)
    else:
        overshoots = s > _take(R.hi, g)
    hn = None
    if named:
        hn = _take(R.named, off + i)
        if H is not None:
            hn |= H
    sol = ~overshoots & (s >= tg) & (need == 0)
    reach = _take(R.top[slots], g)
    tail = _nonzero(i + 1 > n - slots)  # fewer than `slots` amounts left
    if tail.size:
        pt = _take(R.poff, _take(g, tail))
        reach[tail] = _take(R.pre, pt + _take(n, tail)) - _take(R.pre, pt + _take(i, tail) + 1)
    desc = ~overshoots & ~sol & (s + reach >= tg)
    if named:
        sol &= hn | ~_take(R.fw, g)
    return {
        "q": q,
        "g": g,
        "i": i,
        "s": s,
        "hn": hn,
        "par": node["par"],
        "solm": sol,
        "descm": desc,
        "sol": _nonzero(sol),
        "desc": _nonzero(desc),
        "km": km,
    }


def _children(R, K, d, lvd, named, sel=None):
    """The next level's nodes below the descending nodes of level d (``sel``: only below
    these of them)."""
    desc = lvd["desc"] if sel is None else sel
    g2, s2, j2 = _take(lvd["g"], desc), _take(lvd["s"], desc), _take(lvd["i"], desc) + 1
    children = _loop_count(R, g2, s2, j2, np.maximum(_take(lvd["km"], desc) - d - 2, 0))
    o2, k2 = _ragged(children)
    par = _take(desc, o2)
    return {
        "q": _take(lvd["q"], par),
        "g": _take(g2, o2),
        "i": _take(j2, o2) + k2,
        "S": _take(s2, o2),
        "H": _take(lvd["hn"], par) if named else None,
        "par": par,
    }


def _last(R, K, d, lvd, exact):
    """The last loops below the descending nodes of the last explicit level d."""
    desc = lvd["desc"]
    need = np.maximum(_take(lvd["km"], desc) - (K - 2) - 1, 0)
    return _last_loop(
        R, _take(lvd["g"], desc), _take(lvd["s"], desc), _take(lvd["i"], desc) + 1, need, exact
    )


def _level_found(R, F, lv, d, ranks, sel, max_nodes, limit, named):
    """Solutions at the nodes of the last explicit level d and in the loops below them."""
    last = lv[d]
    e = last["sol"]
    F.add(_take(last["g"], e), _take(ranks, e), 0, d, e)
    desc = last["desc"]
    _last_loop_found(
        R,
        F,
        _take(last["g"], desc),
        _take(last["s"], desc),
        _take(last["hn"], desc) if named else None,
        _take(last["i"], desc) + 1,
        last["loops"],
        _take(ranks, desc),
        d,
        desc,
        max_nodes,
        limit,
        named,
    )


def _slices(R, K, lv, a, before, small, p, picks, max_nodes, limit, named, exact):
    """The root batch's subtrees, the nodes above the last explicit level taken in their
    order in slices (a few at first, doubling), the last explicit level expanded only below
    each slice, so that a problem whose budget runs out early expands little beyond it."""
    L = K - 2
    top = L - 2  # the level whose nodes' children are the last explicit level
    # the nodes of levels 0 .. top in the order the search meets them, per problem
    if top == 0:
        it_level = np.zeros(lv[0]["i"].size, dtype=np.int64)
        it_node = np.arange(lv[0]["i"].size, dtype=np.int64)
        it_q = lv[0]["q"]
    else:
        par1 = lv[1]["par"]
        c0 = np.bincount(par1, minlength=lv[0]["i"].size)
        q0, q1 = lv[0]["q"], lv[1]["q"]
        pos0 = _rank_in_run(q0) + _before_in_run(q0, c0)
        pos1 = _take(pos0, par1) + 1 + _rank_in_run(par1)
        cnt = np.bincount(q0, minlength=a.size) + np.bincount(q1, minlength=a.size)
        base = np.cumsum(cnt) - cnt
        at0, at1 = _take(base, q0) + pos0, _take(base, q1) + pos1
        m = at0.size + at1.size
        it_level, it_node = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
        it_level[at0], it_level[at1] = 0, 1
        it_node[at0], it_node[at1] = np.arange(at0.size), np.arange(at1.size)
        it_q = np.repeat(np.arange(a.size, dtype=np.int64), cnt)
    n_items = np.bincount(it_q, minlength=a.size)
    it_start = np.cumsum(n_items) - n_items
    running = before.copy()
    stopped = np.zeros(a.size, dtype=bool)
    cur = np.zeros(a.size, dtype=np.int64)
    width = np.where(_take(small, a), n_items, 2)
    live = _nonzero(n_items > 0)
    lvt = lv[top]
    while live.size:
        tk = np.minimum(_take(width, live), _take(n_items, live) - _take(cur, live))
        o, k = _ragged(tk)
        at = _take(_take(it_start, live) + _take(cur, live), o) + k
        lvl, nd = _take(it_level, at), _take(it_node, at)
        wq = _take(live, o)  # the item's problem, as an index into a
        # below this slice's nodes of level `top`: the last explicit level, in full
        mine = _nonzero(lvl == top)
        under = np.zeros(lvt["i"].size, dtype=bool)
        under[_take(nd, mine)] = True
        sel = _nonzero(under & lvt["descm"])
        node = _children(R, K, top, lvt, named, sel)
        last = _level(R, K, L - 1, node, named)
        last["loops"] = _last(R, K, L - 1, last, exact)
        lsize = np.ones(last["i"].size, dtype=np.int64)
        lsize[last["desc"]] += last["loops"][0]
        sub = np.bincount(last["par"], weights=lsize, minlength=lvt["i"].size).astype(np.int64)
        size = np.ones(at.size, dtype=np.int64)
        size[mine] += _take(sub, _take(nd, mine))
        rank = _take(running, wq) + 1 + _before_in_run(wq, size)
        rank_top = np.zeros(lvt["i"].size, dtype=np.int64)
        rank_top[_take(nd, mine)] = _take(rank, mine)
        lrank = _take(rank_top, last["par"]) + 1 + _before_in_run(last["par"], lsize)
        F = _Found()
        for d in range(top + 1):
            here = _nonzero(lvl == d)
            here = here[_take(lv[d]["solm"], _take(nd, here))]
            F.add(_take(lv[d]["g"], _take(nd, here)), _take(rank, here), 0, d, _take(nd, here))
        _level_found(R, F, [*lv[: top + 1], last], L - 1, lrank, None, max_nodes, limit, named)
        levels_i = [x["i"] for x in lv[: top + 1]] + [last["i"]]
        levels_par = [None] + [x["par"] for x in lv[1 : top + 1]] + [last["par"]]
        _resolve(F, (levels_i, levels_par), picks)
        running += np.bincount(wq, weights=size, minlength=a.size).astype(np.int64)
        cur[live] += tk
        width[live] *= 2
        counted = _take(_count(picks, p, max_nodes), a)
        out = (running > max_nodes) | (counted >= limit)
        stopped |= out
        live = live[~_take(out, live) & (_take(cur, live) < _take(n_items, live))]
    return running, stopped


def _rank_in_run(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal contiguous ``group``."""
    return _before_in_run(group, np.ones(group.size, dtype=np.int64))


def _resolve(F, levels, picks) -> None:
    """The solutions of one batch as (problem, rank, order, positions in sorted order)."""
    for p, rank, sub, level, node, i, x in F.parts:
        cols = []
        if level >= 0:
            level_i, level_par = levels
            nd = node
            for d in range(level, -1, -1):
                cols.insert(0, _take(level_i[d], nd))
                if d:
                    nd = _take(level_par[d], nd)
        cols += [i, x]
        picks.append((p, rank, np.broadcast_to(np.int64(sub), p.shape), np.stack(cols, axis=1)))


def _count(picks, p, max_nodes) -> np.ndarray:
    """Solutions within the budget so far, per problem (p's order)."""
    cnt = np.zeros(p.size, dtype=np.int64)
    for g, rank, _, _ in picks:
        np.add.at(cnt, np.searchsorted(p, g[rank <= max_nodes]), 1)
    return cnt


def _finish(R, picks, p, nodes, finished, max_nodes, limit, found, complete) -> None:
    """Each problem's first ``limit`` solutions within the budget, and completeness: the
    limit reached, or the whole tree walked within the budget."""
    nf = np.zeros(p.size, dtype=np.int64)
    if picks:
        g = np.concatenate([x[0] for x in picks])
        rank = np.concatenate([x[1] for x in picks])
        sub = np.concatenate([x[2] for x in picks])
        width = max(x[3].shape[1] for x in picks)
        paths = np.concatenate(
            [np.pad(x[3], ((0, 0), (0, width - x[3].shape[1])), constant_values=-1) for x in picks]
        )
        ok = _nonzero(rank <= max_nodes)
        g, rank, sub, paths = g[ok], rank[ok], sub[ok], paths[ok]
        o = np.lexsort((sub, rank, g))
        g, paths = g[o], paths[o]
        if g.size:
            first = np.ones(g.size, dtype=bool)
            first[1:] = g[1:] != g[:-1]
            nth = np.arange(g.size) - _nonzero(first)[np.cumsum(first) - 1]
            keep = nth < limit
            g, paths = g[keep], paths[keep]
            # the caller's positions, ascending (unused columns last)
            used = paths >= 0
            at = _take(R.pos, np.where(used, _take(R.off, g)[:, None] + paths, 0))
            at = np.sort(np.where(used, at, np.iinfo(np.int64).max), axis=1)
            for row, combo, k in zip(g.tolist(), at.tolist(), used.sum(1).tolist(), strict=True):
                found.setdefault(row, []).append(combo[:k])
            np.add.at(nf, np.searchsorted(p, g), 1)
    complete[p] = (nf >= limit) | (finished & (nodes <= max_nodes))
