"""Credit notes naming no invoice, netted when with a receipt they pay an invoice exactly.

A customer deducts its credit notes (a return, a rebate) from its next payment: receipt
200.00 + credit notes 100.00 and 50.00 = its open invoice 350.00. The invoice is cleared by
the cash (a ``cash`` row) and by the credit notes (``credit_note`` rows whose receipt_id is
the credit_id, no cash: ``receipt_amount`` 0), only when that is exact and the only
combination: one open invoice of the payer's own customer in the receipt's currency, and
one set of that customer's credit notes that name no invoice, in that currency (a credit
note without a currency counts in any, as :mod:`arlib.match.rules.credit_note` takes it).

Never when the receipt alone is the open amount of an invoice it could pay (cash explains
it: the reference and exact-amount rules decide), when its memo announces an instalment,
or when it names invoices of the payer and the credit notes fit none of those (then only a
named invoice may be netted; naming only other invoices, it is not tried). Two invoices,
or two sets of credit notes, that fit: nothing (people decide, the credit notes stay
unapplied). The search is bounded by counts: at most ``combined_max_invoices`` credit notes
per receipt, ``combined_max_nodes`` search nodes per invoice, ``combined_max_candidates``
invoices in reach; beyond, or cut short, the receipt is left to the later rules.

It runs after people's decisions and before the reference rules: a documented credit note
that makes the payment exact is a better explanation of a shortfall than any tolerance
(rounding, discount, bank charge, payment tolerance) or a partial payment, and it yields to
cash alone by the rule above.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl

from arlib.match.arrays import distinct, spans
from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.search import subsets
from arlib.money import fmt_cents

#: subset sums of a customer's credit notes the pre-filter keeps; with more, any amount
#: within reach of them passes it (a count, so the answer never depends on the machine)
MAX_SUMS = 4096

Credit = tuple[int, str, int, str | None]  # (position, credit_id, cents, currency or None)


def _credits(ctx: Context) -> dict[str, list[Credit]]:
    """customer -> its credit notes naming no invoice, in netting order."""
    cn = ctx.credit_notes
    if cn is None or cn.height == 0:
        return {}
    unnamed = cn.filter(
        pl.col("invoice_id").cast(pl.String).str.strip_chars().fill_null("") == ""
    ).filter((pl.col("_cred_c") > 0) & pl.col("customer_id").is_not_null())
    out: dict[str, list[Credit]] = defaultdict(list)
    for pos, cid, cust, cents, ccy in (
        unnamed.sort("_cn")
        .select("_cn", "credit_id", pl.col("customer_id").cast(pl.String), "_cred_c", "currency")
        .iter_rows()
    ):
        out[cust].append((pos, cid, int(cents), ccy))
    return out


def subset_sums(amounts: list[int], kmax: int, limit: int = MAX_SUMS) -> set[int] | None:
    """Every sum of 1..``kmax`` of ``amounts`` (each taken once), or None when there are
    more than ``limit`` of them."""
    levels: list[set[int]] = [{0}]  # the sums of exactly k amounts
    for a in amounts:
        for k in range(min(len(levels), kmax), 0, -1):
            new = {s + a for s in levels[k - 1]}
            if k == len(levels):
                levels.append(new)
            else:
                levels[k] |= new
            if sum(map(len, levels)) > limit + 1:
                return None
    return set().union(*levels[1:])


class _Pass:
    """One pass of the rule: the receipts of customers with unnamed credit notes in
    (value_date, receipt_id) order, the open invoices of those customers sorted per
    (customer, currency) by open amount, and what the pass
    netted so far. A customer's receipts only ever reach its own invoices and credit
    notes, so customers are independent: a receipt sees what earlier receipts of its
    customer netted."""

    def __init__(self, ctx: Context, credits: dict[str, list[Credit]], fr: pl.DataFrame):
        cfg, ledger = ctx.cfg, ctx.ledger
        self.cap, self.kmax, self.nodes = (
            cfg.combined_max_candidates,
            cfg.combined_max_invoices,
            cfg.combined_max_nodes,
        )
        self.rejected = ledger.rejected
        oi = (
            ledger.inv.select("inv_idx", pl.col("customer_id").alias("c_pay"), "currency")
            .with_columns(open_c=pl.Series(ledger.inv_open))
            .filter((pl.col("open_c") > 0) & pl.col("c_pay").is_in(list(credits)))
        )
        groups = (
            oi.select("c_pay", "currency")
            .unique()
            .sort(["c_pay", "currency"])
            .with_row_index("_g")
            .with_columns(
                pl.col("_g").cast(pl.Int64),
                (pl.col("c_pay") != pl.col("c_pay").shift()).fill_null(True).cum_sum().alias("_c"),
            )
        )
        inv = oi.join(groups, on=["c_pay", "currency"]).sort(["_g", "open_c", "inv_idx"])
        # rec_idx follows receipt_id (the prepared receipts are sorted by it)
        self.fr = fr.join(groups, on=["c_pay", "currency"]).sort(["value_date", "rec_idx"])
        self.g_cust = groups.get_column("c_pay").to_list()
        self.g_credits = [
            [c for c in credits[cust] if c[3] is None or c[3] == ccy]
            for cust, ccy in groups.select("c_pay", "currency").iter_rows()
        ]
        self.total = np.array([sum(c[2] for c in cr) for cr in self.g_credits], dtype=np.int64)
        # invoices: sorted position k -> inv_idx, open amount; a composite key (group, rank
        # of the open amount) for sorted searches by amount within a group
        self.inv_i = inv.get_column("inv_idx").to_numpy()
        self.inv_v = inv.get_column("open_c").to_numpy()
        self.values = distinct(self.inv_v)
        self.width = self.values.size + 1
        inv_g = inv.get_column("_g").to_numpy()
        self.key = inv_g * self.width + np.searchsorted(self.values, self.inv_v)
        self.gone = np.zeros(inv.height, dtype=bool)  # netted in this pass
        self.gone_at = np.zeros(0, dtype=np.int64)  # the same, as sorted positions
        # receipts: position p -> rec_idx, amount, group, whether its memo names invoices
        self.r_ri = self.fr.get_column("rec_idx").to_numpy()
        self.r_amt = self.fr.get_column("amt_c").to_numpy()
        self.r_g = self.fr.get_column("_g").to_numpy()
        ref_r = ctx.refs.get_column("rec_idx").to_numpy()
        ref_k = np.full(ledger.inv.height, -1, dtype=np.int64)
        ref_k[self.inv_i] = np.arange(inv.height)
        ref_k = ref_k[ctx.refs.get_column("inv_idx").to_numpy()]
        names = np.zeros(ledger.rec.height, dtype=bool)
        names[ref_r] = True
        self.r_named = names[self.r_ri]
        # per invoice how many receipts still waiting (this one too) name it
        fresh = np.zeros(ledger.rec.height, dtype=bool)
        fresh[ledger.fresh_receipts().get_column("rec_idx").to_numpy()] = True
        on = (ref_k >= 0) & fresh[ref_r]
        claim = distinct(ref_k[on] * ledger.rec.height + ref_r[on]) // ledger.rec.height
        self.claims = np.bincount(claim, minlength=inv.height)
        # the open invoices of its customer and currency a receipt names: (p, k) by p, k
        ref_p = np.full(ledger.rec.height, -1, dtype=np.int64)
        ref_p[self.r_ri] = np.arange(self.fr.height)
        ref_p = ref_p[ref_r]
        on = (ref_p >= 0) & (ref_k >= 0)
        on[on] = self.r_g[ref_p[on]] == inv_g[ref_k[on]]
        mine = distinct(ref_p[on] * inv.height + ref_k[on])
        self.n_p, self.n_k = mine // max(inv.height, 1), mine % max(inv.height, 1)
        self.n_from = np.zeros(self.fr.height + 1, dtype=np.int64)
        self.n_from[1:] = np.cumsum(np.bincount(self.n_p, minlength=self.fr.height))
        # the subset sums of each group's credit notes, as (group, rank of the sum) keys
        sums = [subset_sums([c[2] for c in cr], self.kmax) for cr in self.g_credits]
        self.unbounded = np.array([s is None for s in sums], dtype=bool)
        s_g = np.array([k for k, s in enumerate(sums) if s for _ in s], dtype=np.int64)
        s_v = np.array([v for s in sums if s for v in s], dtype=np.int64)
        self.sum_values = distinct(s_v)
        self.sum_width = self.sum_values.size + 1
        self.sum_keys = np.sort(s_g * self.sum_width + np.searchsorted(self.sum_values, s_v))
        self.used: set[int] = set()  # credit-note positions netted in this pass
        self.g_c = groups.get_column("_c").to_numpy()  # the group's customer, numbered

    def _in_window(self, g: np.ndarray, amt: np.ndarray, tot: np.ndarray):
        """Per receipt, the span of sorted invoices of its group open from ``amt`` to
        ``amt + tot`` at the start of the pass, and how many of them are still open."""
        lo = np.searchsorted(self.values, amt, side="left")
        hi = np.searchsorted(self.values, amt + tot, side="right")
        a = np.searchsorted(self.key, g * self.width + lo, side="left")
        b = np.searchsorted(self.key, g * self.width + hi, side="left")
        gone = np.searchsorted(self.gone_at, b) - np.searchsorted(self.gone_at, a)
        return a, b, b - a - gone

    def _fit(self, g: np.ndarray, diff: np.ndarray) -> np.ndarray:
        """``diff`` is a subset sum of the group's credit notes (or there are too many)."""
        r = np.searchsorted(self.sum_values, diff)
        hit = r < self.sum_values.size
        hit[hit] = self.sum_values[r[hit]] == diff[hit]
        code = g * self.sum_width + r
        at = np.searchsorted(self.sum_keys, code)
        hit[hit] = self.sum_keys[np.minimum(at[hit], self.sum_keys.size - 1)] == code[hit]
        return hit | self.unbounded[g]

    def candidates(self, sel: np.ndarray) -> np.ndarray:
        """The receipts of ``sel`` (positions, ascending) that might net something as the
        pass stands: a superset of those :meth:`attempt` nets. Nothing else can: some
        invoice in reach (in the receipt's window, not named by another waiting receipt,
        not rejected) lies above the receipt by a subset sum of its credit notes, no
        invoice in the window has the receipt's amount and at most ``cap`` are in it."""
        sel = sel[self.total[self.r_g[sel]] > 0]
        named = self.r_named[sel]
        # naming none: the group's open invoices from the amount up to it plus the credits
        free = sel[~named]
        g, amt = self.r_g[free], self.r_amt[free]
        a, b, n = self._in_window(g, amt, self.total[g])
        few = (n >= 1) & (n <= self.cap)
        row, k1 = spans(a[few], b[few])
        p1 = free[few][row]
        # naming some: the group's open invoices it names within that reach
        ns = sel[named]
        row, at = spans(self.n_from[ns], self.n_from[ns + 1])
        p2, k2 = ns[row], self.n_k[at]
        lo = self.r_amt[p2]
        v = self.inv_v[k2]
        near = ~self.gone[k2] & (v >= lo) & (v <= lo + self.total[self.r_g[p2]])
        p2, k2 = p2[near], k2[near]
        few = np.bincount(p2, minlength=self.r_ri.size)[p2] <= self.cap
        p = np.concatenate([p1, p2[few]])
        k = np.concatenate([k1, k2[few]])
        open_ = ~self.gone[k]
        p, k = p[open_], k[open_]
        amt, v = self.r_amt[p], self.inv_v[k]
        exact = np.zeros(self.r_ri.size, dtype=bool)
        exact[p[v == amt]] = True  # the cash alone pays an invoice of the window
        ok = (self.claims[k] == self.r_named[p]) & self._fit(self.r_g[p], v - amt)
        if self.rejected:
            n_inv = int(self.inv_i.max()) + 1
            rejected = np.array([r * n_inv + i for r, i in self.rejected if i < n_inv])
            ok &= ~np.isin(self.r_ri[p] * n_inv + self.inv_i[k], rejected)
        found = distinct(p[ok])
        return found[~exact[found]]

    def attempt(self, p: int) -> tuple[int, list[Credit]] | None:
        """What receipt ``p`` nets as the pass stands: the sorted invoice and the credit
        notes, when that is the only invoice and set of credit notes that add up."""
        g, amt, ri = int(self.r_g[p]), int(self.r_amt[p]), int(self.r_ri[p])
        avail = [c for c in self.g_credits[g] if c[0] not in self.used]
        if not avail:
            return None
        total = sum(c[2] for c in avail)
        named = bool(self.r_named[p])
        if named:  # only the payer's open invoices the memo names, if it names any
            mine = [int(k) for k in self.n_k[self.n_from[p] : self.n_from[p + 1]]]
            mine = [k for k in mine if not self.gone[k]]
            if not mine:
                return None
            window = [k for k in mine if amt <= self.inv_v[k] <= amt + total]
        else:  # the open invoices from the receipt's amount up to it plus every credit note
            a, b, _ = self._in_window(np.array([g]), np.array([amt]), np.array([total]))
            window = []
            for k in range(int(a[0]), int(b[0])):
                if not self.gone[k]:
                    window.append(k)
                    if len(window) > self.cap:
                        break
        if any(self.inv_v[k] == amt for k in window):
            return None  # the cash alone pays an invoice: not for this rule
        reach = [
            k
            for k in window
            if self.claims[k] == named and (ri, int(self.inv_i[k])) not in self.rejected
        ]
        if not reach or len(window) > self.cap:
            return None
        amounts = [c[2] for c in avail]
        kmax = min(len(amounts), self.kmax)
        fits: list[tuple[int, list[int]]] = []
        complete = True
        for k in reach:
            found, done = subsets(amounts, int(self.inv_v[k]) - amt, 0, kmax, self.nodes, kmin=1)
            complete &= done
            fits.extend((k, f) for f in found)
            if len(fits) > 1 or not complete:
                break
        if len(fits) != 1 or not complete:
            return None
        k, picked = fits[0]
        return k, [avail[j] for j in picked]

    def net(self, p: int, k: int, netted: list[Credit]) -> np.ndarray:
        """Record that receipt ``p`` netted invoice ``k`` with ``netted``; the later
        receipts of its customer that might net something now."""
        self.gone[k] = True
        self.gone_at = np.sort(np.append(self.gone_at, k))
        self.used.update(c[0] for c in netted)
        c = self.g_c[self.r_g[p]]
        for g in np.flatnonzero(self.g_c == c):
            self.total[g] = sum(x[2] for x in self.g_credits[g] if x[0] not in self.used)
        later = np.flatnonzero(self.g_c[self.r_g] == c)
        return self.candidates(later[later > p])


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    credits = _credits(ctx)
    if not credits or receipts.height == 0:
        return Proposal()
    fr = receipts.select(
        "rec_idx", "receipt_id", "value_date", "currency", "amt_c", "c_pay", "inst"
    ).filter(pl.col("c_pay").is_in(list(credits)) & ~pl.col("inst"))
    run = _Pass(ctx, credits, fr)
    if run.fr.height == 0:
        return Proposal()
    # a receipt that nets nothing changes nothing: per customer, only the receipts that
    # might net something are tried, and after each netting its later ones are sorted again
    netted: list[tuple[int, int, list[Credit]]] = []
    start = run.candidates(np.arange(run.fr.height))
    cust_of = np.array(run.g_cust, dtype=object)[run.r_g[start]] if start.size else []
    queues: dict[str, list[int]] = defaultdict(list)
    for p, cust in zip(start.tolist(), cust_of, strict=True):
        queues[cust].append(p)
    for queue in queues.values():
        j = 0
        while j < len(queue):
            p = queue[j]
            j += 1
            hit = run.attempt(p)
            if hit is not None:
                netted.append((p, *hit))
                queue, j = run.net(p, *hit).tolist(), 0
    rows: list[tuple] = []
    fr = run.fr.select("receipt_id", "value_date", "c_pay")
    netted.sort(key=lambda t: t[0])
    ids = ledger.invoice_ids([int(run.inv_i[k]) for _, k, _ in netted])
    for (p, k, notes_used), iid in zip(netted, ids, strict=True):
        rid, day, cust = fr.row(p)
        ri, amt, i = int(run.r_ri[p]), int(run.r_amt[p]), int(run.inv_i[k])
        o, named = int(run.inv_v[k]), bool(run.r_named[p])
        sub_rule = "credit_note.netted_named" if named else "credit_note.netted"
        notes = ", ".join(f"{c[1]} ({fmt_cents(c[2])})" for c in notes_used)
        reason = (
            f"receipt {rid} {fmt_cents(amt)} + credit notes naming no invoice "
            f"{notes} = {fmt_cents(o)}, the open amount of invoice {iid}"
            + (" (named in the memo)" if named else "")
            + f" of customer {cust}: the only invoice and set of credit notes that add up"
        )
        head = (len(rows), 0, day)
        rows.append((*head, rid, ri, i, "cash", amt, amt, "credit_note", sub_rule, reason, ""))
        for _, cid, cents, _ in notes_used:
            rows.append(
                (*head, cid, None, i, "credit_note", cents, 0, "credit_note", sub_rule, reason, "")
            )
    return Proposal(rows=proposal_rows(rows))


RULE = Rule(
    id="credit_note.unnamed",
    switch="credit_note",
    description="credit notes naming no invoice, netted with a receipt of the same customer "
    "and currency when receipt + credit notes = one open invoice exactly, the only such "
    "invoice and set of credit notes (never when the receipt alone pays an invoice, nor on "
    "an instalment)",
    receipts=Receipts(payer=True, policy="open_item"),
    propose=propose,
    ties="in_order",
    confidence={"credit_note.netted": 0.85, "credit_note.netted_named": 0.9},
    settings=("combined_max_invoices", "combined_max_candidates", "combined_max_nodes"),
)
