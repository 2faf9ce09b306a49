"""Instalments: receipts naming no invoice that pay one in parts.

``instalment.only_invoice``: a memo announcing an instalment (第2期货款, 分期货款, installment
2/3) goes onto the payer's *only* open invoice in the currency (date window) when it does
not exceed the open amount. ``instalment.progress``: the next instalment of an invoice
part-paid this period by a receipt that named it -- a receipt equal to its open rest (the
last instalment), or one announcing an instalment that fits the customer's only invoice in
progress. Never when another open invoice of the customer has the receipt's amount, or the
amount looks like a keying error of an open invoice, or comes within ``suggest_near_pct``
below one: those stay suggestions.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict

import numpy as np
import polars as pl

from arlib.keying import SHIFT_FACTORS, is_keying_error_np, keying_error, transpositions_np
from arlib.match.arrays import Grouped, concat
from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import basis_points, short
from arlib.match.ledger import Ledger
from arlib.match.prepare import exact_keying_errors, in_date_window
from arlib.match.rules.partial import RULE as PARTIAL
from arlib.money import fmt_cents


def propose_only_invoice(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """A receipt whose memo announces an instalment (第2期货款, 分期货款, installment 2/3)
    but names no invoice: applied to the payer's *only* open invoice in the receipt's
    currency (dated within the date window) when the receipt does not exceed its open
    amount; flagged ``partial`` while the invoice stays partly open. Two or more open
    invoices, or a larger receipt, are left to people (suggestions)."""
    cfg, ledger, fr = ctx.cfg, ctx.ledger, receipts
    if fr.height == 0:
        return Proposal()
    oi = (
        ledger.inv.select(
            "inv_idx", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
        )
        .filter(pl.Series(ledger.inv_open > 0))
        .join(fr.select("c_pay", "currency").unique(), on=["c_pay", "currency"])
        .filter(pl.len().over(["c_pay", "currency"]) == 1)
    )
    c = fr.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "c_pay",
        "memo",
        "bank_ref",
        "payer_method",
        "payer_score",
    ).join(oi, on=["c_pay", "currency"])
    c = c.filter(in_date_window(cfg))
    c = ledger.drop_rejected(c).sort(["value_date", "receipt_id"])
    rows: list[tuple] = []
    inv_open = ledger.inv_open.copy()
    # (the reasons' invoice ids gathered for these rows only)
    c = c.with_columns(_iid=pl.Series(ledger.invoice_ids(c.get_column("inv_idx"))))
    for r in c.iter_rows(named=True):
        ri, i = r["rec_idx"], r["inv_idx"]
        amt, o = int(ledger.rec_amt[ri]), int(inv_open[i])
        if amt > o:
            continue
        inv_open[i] -= amt
        text = short(r["memo"] if r["memo"] is not None else r["bank_ref"])
        reason = (
            f"memo '{text}' announces an instalment; invoice {r['_iid']} is the only open "
            f"{r['currency']} invoice of customer {r['c_pay']} (open {fmt_cents(o)}); "
            f"applied {fmt_cents(amt)}"
        )
        if amt < o:
            reason += f" as a partial payment, {fmt_cents(o - amt)} left open"
        rows.append(
            (
                len(rows),
                0,
                r["value_date"],
                r["receipt_id"],
                ri,
                i,
                "cash",
                amt,
                amt,
                "partial",
                "instalment.only_invoice",
                reason,
                "partial" if amt < o else "",
            )
        )
    return Proposal(rows=proposal_rows(rows))


TOP = np.iinfo(np.int64).max
POWERS = 10 ** np.arange(19, dtype=np.int64)  # every power of ten an Int64 holds


def in_progress(ledger: Ledger) -> pl.DataFrame:
    """Invoices being paid in parts: part-paid this period by a receipt that named them
    (the partial rule), still open and dated: (inv_idx, c_pay, currency, invoice_date),
    per (customer, currency) oldest first."""
    named = ledger.allocations().filter(pl.col("rule_id").is_in(list(PARTIAL.confidence)))
    return (
        ledger.inv.select(
            "inv_idx", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
        )
        .with_columns(open_c=pl.Series(ledger.inv_open))
        .join(named.select("inv_idx").unique(), on="inv_idx", how="semi")
        .filter((pl.col("open_c") > 0) & pl.col("invoice_date").is_not_null())
        .drop("open_c")
        # inv_idx follows invoice_id (the prepared invoices are sorted by it)
        .sort(["c_pay", "currency", "invoice_date", "inv_idx"])
    )


def _dropped_or_doubled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, amount): ``x[row]`` (positive cents) with one digit dropped, or one digit
    doubled where that fits an Int64."""
    n = np.searchsorted(POWERS, x, side="right")
    rows, out = [], []
    for k in range(int(n.max(initial=0))):
        idx = np.flatnonzero(n > k)
        v = x[idx]
        low = v % POWERS[k]
        if k + 1 == POWERS.size:  # the 19th digit, the first: nothing above it
            rows.append(idx)
            out.append(low)
            continue
        head = v // POWERS[k]  # the digits from k up
        rest = head % 10 * POWERS[k] + low  # digit k and those below it
        rows.append(idx)
        out.append(v // POWERS[k + 1] * POWERS[k] + low)
        ok = head <= (TOP - rest) // POWERS[k + 1]
        rows.append(idx[ok])
        out.append(head[ok] * POWERS[k + 1] + rest[ok])
    return concat(rows), concat(out)


def _bounds(amt: np.ndarray, near_bp: int) -> np.ndarray:
    """Per amount the three ranges the near-or-typo search looks in (see
    :class:`_Progress`): its (lo, hi) columns, clipped to an Int64 ((1, 0): empty)."""
    div = max(1, 10_000 - near_bp)

    def ranges(a):
        return ((a, a * 10_000 // div + 1), (a * 10 - 5, a * 10 + 5), (a * 100 - 50, a * 100 + 50))

    out = np.empty((amt.size, 6), dtype=np.int64)
    small = amt <= (TOP - 10_000) // 10_000  # no step overflows an Int64
    out[small] = np.stack([x for r in ranges(amt[small]) for x in r], axis=1)
    for k in np.flatnonzero(~small).tolist():  # in Python integers
        out[k] = [
            x
            for lo, hi in ranges(int(amt[k]))
            for x in ((1, 0) if lo > TOP else (lo, min(hi, TOP)))
        ]
    return out


class _Progress:
    """One pass of ``instalment.progress``. The receipts of customers (and currencies) with
    invoices in progress, in (value_date, receipt_id) order; the invoices in progress per
    key, oldest first; the open invoices of those keys as at the start of the pass.

    A receipt is compared with two kinds of invoice of its key. Those in progress, with
    their open rests as the pass leaves them: the receipt may pay one, and any other that
    its amount equals, is a keying error of, or comes within ``suggest_near_pct`` below
    stops it. And the other open invoices the near-or-typo search finds (an open or
    invoiced amount from the receipt's amount up to ``suggest_near_pct`` above it, about
    x10 or x100 of it, x1/10 or x1/100 of it exactly, or it with two digits swapped):
    those stop it on the same conditions, as they stood at the start (the pass changes
    only invoices in progress). Which pairs could be equal or keying errors at all is a
    join on the amounts a keying error can turn an amount into
    (:func:`arlib.keying.keying_error` decides each), so a receipt is not compared with
    every open invoice of a big customer; only the "within ``suggest_near_pct``" test of an
    announced instalment that fits (a few per customer) looks at all of them."""

    def __init__(self, ctx: Context, receipts: pl.DataFrame):
        cfg, ledger = ctx.cfg, ctx.ledger
        self.near_bp = basis_points(cfg.suggest_near_pct)
        progress = in_progress(ledger)
        fr = receipts.select(
            "rec_idx",
            "receipt_id",
            "value_date",
            "currency",
            "amt_c",
            "c_pay",
            "memo",
            "bank_ref",
            pl.col("inst").fill_null(False),
        ).filter(pl.col("value_date").is_not_null())
        fr = fr.join(progress.select("c_pay", "currency").unique(), on=["c_pay", "currency"])
        keys = fr.select("c_pay", "currency").unique().sort(["c_pay", "currency"])
        keys = keys.with_row_index("_g").with_columns(pl.col("_g").cast(pl.Int64))
        # rec_idx follows receipt_id (the prepared receipts are sorted by it)
        self.fr = fr.join(keys, on=["c_pay", "currency"]).sort(["value_date", "rec_idx"])
        prog = progress.join(keys, on=["c_pay", "currency"]).sort(["_g", "invoice_date", "inv_idx"])
        n_inv = ledger.inv.height
        # invoices in progress: position q -> inv_idx, key; each key's span of positions
        self.p_i = prog.get_column("inv_idx").to_numpy()
        p_g = prog.get_column("_g").to_numpy()
        self.span = np.searchsorted(p_g, np.arange(keys.height + 1))
        self.in_p = np.zeros(n_inv, dtype=bool)
        self.in_p[self.p_i] = True
        # receipts: position p -> rec_idx, amount, key; the in-progress invoices dated
        # within the date window of its value date, a span of positions
        self.r_ri = self.fr.get_column("rec_idx").to_numpy()
        self.r_amt = self.fr.get_column("amt_c").to_numpy()
        self.r_g = self.fr.get_column("_g").to_numpy()
        self.r_inst = self.fr.get_column("inst").to_numpy()
        day = prog.get_column("invoice_date").cast(pl.Int64).to_numpy()
        at = (p_g << 32) + day
        vd = self.fr.get_column("value_date").cast(pl.Int64).to_numpy()
        days = np.iinfo(np.int32)  # a date's range
        first = np.clip(vd - cfg.date_window_days, days.min, days.max)
        last = np.clip(vd + cfg.date_window_prepay_days, days.min, days.max)
        self.lo = np.searchsorted(at, (self.r_g << 32) + first, "left")
        self.hi = np.searchsorted(at, (self.r_g << 32) + last, "right")
        # the open invoices of the keys as at the start: (inv_idx, key, open, invoiced)
        oi = (
            ledger.inv.select(
                "inv_idx",
                pl.col("customer_id").alias("c_pay"),
                "currency",
                pl.col("amt_c").fill_null(0),  # none is no keying error, as 0 is not
            )
            .with_columns(open_c=pl.Series(ledger.inv_open))
            .filter(pl.col("open_c") > 0)
            .join(keys, on=["c_pay", "currency"])
            .sort(["_g", "inv_idx"])
        )
        self.o_i = oi.get_column("inv_idx").to_numpy()
        self.o_g = oi.get_column("_g").to_numpy()
        self.o_open = oi.get_column("open_c").to_numpy()
        self.o_amt = oi.get_column("amt_c").to_numpy()
        self.o_span = np.searchsorted(self.o_g, np.arange(keys.height + 1))
        self.bounds = _bounds(self.r_amt, self.near_bp)
        related = self._related()
        # per receipt the invoices in progress its amount might equal or be a keying error
        # of (checked as the pass stands), and whether another open invoice stops it
        mine = related[self.in_p[self.o_i[related[:, 1]]]]
        self.watch_from = np.searchsorted(mine[:, 0], np.arange(self.fr.height + 1))
        self.watch = self.o_i[mine[:, 1]]
        self.stopped = np.zeros(self.fr.height, dtype=bool)
        self.stopped[self._stops(related[~self.in_p[self.o_i[related[:, 1]]]])] = True

    def _related(self) -> np.ndarray:
        """(receipt, open invoice) rows, distinct and sorted, of the same key where the
        receipt's amount equals, or might be a keying error of, the invoice's open or
        invoiced amount (at the start): a superset of those pairs. From the receipt's side
        the same amount, ×1/f exactly, about ×f and swapped digits; from the invoice's
        side a digit dropped or doubled (every kind of :mod:`arlib.keying`): joins on the
        amounts, a sorted search for the ranges about ×f."""
        n, amt = self.o_i.size, self.r_amt
        if n == 0 or amt.size == 0:
            return np.zeros((0, 2), dtype=np.int64)
        # each invoice's open amount, and its invoiced amount where that differs
        of = np.concatenate([np.arange(n), np.flatnonzero(self.o_amt != self.o_open)])
        value = np.concatenate([self.o_open, self.o_amt[of[n:]]])
        group = self.o_g[of]
        rows, swapped = transpositions_np(amt)
        ask, asked = [np.arange(amt.size), rows], [amt, swapped]
        for f in SHIFT_FACTORS:
            down = np.flatnonzero(amt % f == 0)
            ask.append(down)
            asked.append(amt[down] // f)
        ask = concat(ask)
        values = pl.DataFrame({"k": of, "g": group, "v": value})
        found = [
            pl.DataFrame({"p": ask, "g": self.r_g[ask], "v": concat(asked)})
            .join(values, on=["g", "v"])
            .select("p", "k")
        ]
        rows, forms = _dropped_or_doubled(value)
        found.append(
            pl.DataFrame({"k": of[rows], "g": group[rows], "v": forms})
            .join(pl.DataFrame({"p": np.arange(amt.size), "g": self.r_g, "v": amt}), on=["g", "v"])
            .select("p", "k")
        )
        near = Grouped(group, value)
        for f in SHIFT_FACTORS:
            ok = np.flatnonzero(amt <= (TOP - (f - 1)) // f)
            at, row = near.between(self.r_g[ok], amt[ok] * f - (f - 1), amt[ok] * f + (f - 1))
            found.append(pl.DataFrame({"p": ok[at], "k": of[row]}))
        pairs = pl.concat(found).unique().sort(["p", "k"])
        return pairs.select("p", "k").to_numpy()

    def _stops(self, pairs: np.ndarray) -> np.ndarray:
        """The receipts of ``pairs`` (receipt, open invoice not in progress, related) that
        the near-or-typo search finds the invoice for and whose amount equals, or is a
        keying error of, its open or invoiced amount."""
        p, k = pairs[:, 0], pairs[:, 1]
        amt, o, a = self.r_amt[p], self.o_open[k], self.o_amt[k]
        b = self.bounds[p]
        found = np.zeros(p.size, dtype=bool)
        for v in (o, a):
            for j in (0, 2, 4):
                found |= (b[:, j] <= v) & (v <= b[:, j + 1])
            for f in (10, 100):
                found |= (amt % f == 0) & (v == amt // f)
        rows, swapped = transpositions_np(amt)
        found[rows[(swapped == o[rows]) | (swapped == a[rows])]] = True
        stops = found & ((amt == o) | (amt == a))
        maybe = np.flatnonzero(found & ~stops)
        keyed = is_keying_error_np(amt[maybe], o[maybe]) | is_keying_error_np(amt[maybe], a[maybe])
        return np.concatenate([p[stops], p[maybe[keyed]]])

    def near_other(self, p: int, amt: int) -> bool:
        """An open invoice of the receipt's key not in progress, found by the near-or-typo
        search, whose open amount lies within ``suggest_near_pct`` above ``amt``."""
        g = self.r_g[p]
        k = slice(self.o_span[g], self.o_span[g + 1])
        o, a, other = self.o_open[k], self.o_amt[k], ~self.in_p[self.o_i[k]]
        b = self.bounds[p]
        exact = np.array(sorted(exact_keying_errors(amt)), dtype=np.int64)
        found = np.zeros(o.size, dtype=bool)
        for v in (o, a):
            for j in (0, 2, 4):
                found |= (b[j] <= v) & (v <= b[j + 1])
            found |= np.isin(v, exact)
        bp = self.near_bp
        return any(0 < x - amt <= x * bp // 10_000 for x in o[found & other].tolist())


def propose_progress(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """The next instalment of an invoice already being paid in parts: a receipt naming no
    invoice, from a customer with an invoice part-paid this period (by a receipt that named
    it), goes onto that invoice when its amount equals the invoice's open rest (the last
    instalment), or -- when that is the customer's only invoice in progress in the
    currency -- when it fits inside the rest. Never when another open invoice of the
    customer has the receipt's amount, or the amount looks like a keying error (x10, /10,
    swapped digits) of an open invoice, or comes within ``suggest_near_pct`` below one:
    those stay suggestions. Applied in value-date order, so a third instalment sees the
    rest the second one left (:class:`_Progress`)."""
    ledger = ctx.ledger
    if receipts.height == 0:
        return Proposal()
    run = _Progress(ctx, receipts)
    if run.fr.height == 0:
        return Proposal()
    rejected: dict[int, set[int]] = defaultdict(set)
    for ri, i in ledger.rejected:
        rejected[ri].add(i)
    # the pass's state, by position in progress: the open rest; the positions by open rest;
    # the next position still open (a paid invoice is skipped); per key the invoices
    # part-paid in this pass, still open
    p_i, span, bp = run.p_i.tolist(), run.span.tolist(), run.near_bp
    p_amt = ledger.inv.get_column("amt_c").gather(run.p_i).to_list()
    rest = ledger.inv_open[run.p_i].tolist()
    by_rest: dict[int, list[int]] = defaultdict(list)
    for q, o in enumerate(rest):
        by_rest[o].append(q)
    skip = list(range(len(p_i) + 1))

    def next_open(q: int) -> int:
        root = q
        while skip[root] != root:
            root = skip[root]
        while skip[q] != root:
            skip[q], q = root, skip[q]
        return root

    position = np.zeros(ledger.inv.height, dtype=np.int64)
    position[run.p_i] = np.arange(len(p_i))
    watch, watch_from = position[run.watch].tolist(), run.watch_from.tolist()
    part_paid: dict[int, list[int]] = defaultdict(list)
    applied: list[tuple[int, int, int, bool]] = []  # (receipt, invoice, open before, last)
    todo = np.flatnonzero((run.lo < run.hi) & ~run.stopped)
    for p, ri, amt, g, a, b, inst in zip(
        todo.tolist(),
        run.r_ri[todo].tolist(),
        run.r_amt[todo].tolist(),
        run.r_g[todo].tolist(),
        run.lo[todo].tolist(),
        run.hi[todo].tolist(),
        run.r_inst[todo].tolist(),
        strict=True,
    ):
        if ri in rejected:
            live = [q for q in range(a, b) if rest[q] > 0 and p_i[q] not in rejected[ri]]
            equal = [q for q in live if rest[q] == amt]
        else:
            at = by_rest.get(amt, ())
            equal = at[bisect_left(at, a) : bisect_left(at, b)] if at else ()
            if len(equal) != 1 and inst:
                first = next_open(a)
                live = [first] if first < b and next_open(first + 1) >= b else []
        if len(equal) == 1:
            q, last = equal[0], True
        elif inst and len(live) == 1 and amt < rest[live[0]]:
            q, last = live[0], False
        else:
            continue
        clash = False
        for k in (*watch[watch_from[p] : watch_from[p + 1]], *part_paid[g]):
            o = rest[k]
            if o <= 0 or k == q:
                continue
            if amt in (o, p_amt[k]) or keying_error(amt, o) or keying_error(amt, p_amt[k]):
                clash = True
                break
        if not clash and not last:
            clash = (
                keying_error(amt, p_amt[q])
                or run.near_other(p, amt)
                or any(
                    0 < rest[k] - amt <= rest[k] * bp // 10_000
                    for k in range(span[g], span[g + 1])
                    if k != q
                )
            )
        if clash:
            continue
        o = rest[q]
        rest[q] = o - amt
        at = by_rest[o]
        del at[bisect_left(at, q)]
        if o > amt:
            insort(by_rest[o - amt], q)
            if q not in part_paid[g]:
                part_paid[g].append(q)
        else:
            skip[q] = q + 1
        applied.append((p, p_i[q], o, last))
    rows: list[tuple] = []
    picked = run.fr[[p for p, *_ in applied]].select(
        "value_date", "receipt_id", "rec_idx", "amt_c", "c_pay", "currency", "memo", "bank_ref"
    )
    ids = ledger.invoice_ids([target for _, target, _, _ in applied])
    for (_, target, o, last), iid, (day, rid, ri, amt, cust, ccy, memo, ref) in zip(
        applied, ids, picked.iter_rows(), strict=True
    ):
        text = short(memo if memo is not None else ref)
        reason = (
            f"memo '{text}' names no invoice; customer {cust} is paying invoice "
            f"{iid} in instalments (open {fmt_cents(o)}); "
        )
        if last:
            reason += f"amount {fmt_cents(amt)} equals its open rest: it clears the invoice"
        else:
            reason += (
                f"it is the customer's only {ccy} invoice in progress; applied "
                f"{fmt_cents(amt)}, {fmt_cents(o - amt)} left open"
            )
        sub_rule = "instalment.last" if last else "instalment.in_progress"
        flags = "" if last else "partial"
        rows.append(
            (
                len(rows),
                0,
                day,
                rid,
                ri,
                target,
                "cash",
                amt,
                amt,
                "partial",
                sub_rule,
                reason,
                flags,
            )
        )
    return Proposal(rows=proposal_rows(rows))


WINDOW = ("date_window_days", "date_window_prepay_days")
RULES = (
    Rule(
        id="instalment.only_invoice",
        switch="partial",
        description="a memo announcing an instalment, naming no invoice: onto the payer's "
        "only open invoice in the currency when it does not exceed the open amount",
        receipts=Receipts(payer=True, references="without", policy="open_item", instalment=True),
        propose=propose_only_invoice,
        ties="in_order",
        confidence={"instalment.only_invoice": 0.6},
        settings=WINDOW,
    ),
    Rule(
        id="instalment.progress",
        switch="partial",
        description="the next instalment of an invoice part-paid this period by a receipt "
        "that named it: equal to its open rest, or an announced instalment that fits the "
        "customer's only invoice in progress",
        receipts=Receipts(payer=True, references="without", policy="open_item"),
        propose=propose_progress,
        ties="in_order",
        confidence={"instalment.last": 0.8, "instalment.in_progress": 0.6},
        settings=("suggest_near_pct", *WINDOW),
    ),
)
