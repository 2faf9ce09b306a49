"""Combined payments: one receipt = the exact sum of 2..k open invoices of its payer.

Found by a bounded search (``combined_max_nodes`` search nodes per receipt, a count, never
a clock) over the oldest ``combined_max_candidates`` open invoices that fit the amount,
named ones first; applied only when that combination is the only one, else suggestions. A
memo that counts its invoices (付INV0012345等6笔货款, 6 invoices) asks for exactly that many,
its named invoices among them, up to 10. No bank-charge tolerance here: a near sum of
unnamed invoices is too often a coincidence (``reference.combined`` may write one off).

Receipts are taken in (value_date, receipt_id) order and an applied combination takes its
invoices from the later receipts of the same payer and currency; receipts of different
payers or currencies never meet. So the candidates and searches of all receipts are done
at once (numpy, :func:`arlib.match.search.subsets_many`) against the open amounts as they
stand, which is exact for every receipt up to the first one of its payer and currency that
applies a combination; the receipts after it are done again, in rounds, with its invoices
paid.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import polars as pl

from arlib.match.cascade import PROPOSAL_ROWS, Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import SUGGESTION_ROWS
from arlib.match.search import subsets_many
from arlib.money import fmt_cents_expr

_INVOICE_COUNT = (r"(?:等|共)\s*(\d{1,2})\s*[笔张份项]", r"(?i)\b(\d{1,2})\s+invoices\b")
#: ... but never more than this many in one combination
_COMBINED_HARD_MAX = 10
#: open invoices looked at per candidate place (big customers have thousands open)
_LOOK_PER_CANDIDATE = 4


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    fr = receipts.sort(["value_date", "receipt_id"]).with_columns(
        pl.coalesce(
            pl.col(c).str.extract(p, 1).cast(pl.Int64, strict=False)
            for c in ("memo", "bank_ref")
            for p in _INVOICE_COUNT
        ).alias("n_named")
    )
    if fr.height == 0:
        return Proposal()
    # the payers' open invoices per (customer, currency), oldest first
    oi = (
        ledger.inv.select("inv_idx", "customer_id", "currency", "invoice_date", "invoice_id")
        .filter(pl.Series(ledger.inv_open > 0))
        .join(
            fr.select(pl.col("c_pay").alias("customer_id")).unique(), on="customer_id", how="semi"
        )
        .sort(["invoice_date", "invoice_id"])
    )
    if oi.height == 0:
        return Proposal()
    groups = oi.select("customer_id", "currency").unique(maintain_order=True).with_row_index("g")
    oi = oi.join(groups, on=["customer_id", "currency"], maintain_order="left")
    oi = oi.select("inv_idx", pl.col("g").cast(pl.Int64)).sort("g", maintain_order=True)
    st = _State(ctx, fr, groups, oi)
    work = np.flatnonzero(st.eligible)
    while work.size:
        pos = st.candidates_of(work)
        found, complete, off_count = st.search(pos, st.unchanged())
        one = np.zeros(pos.size, dtype=bool)
        one[[t for t, f in found.items() if len(f) == 1]] = True
        alloc = one & complete & ~off_count
        # per payer and currency, everything up to its first applied combination stands;
        # the receipts after it see its invoices paid: next round
        first = np.full(st.n_groups, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, np.take(st.g, pos[alloc]), pos[alloc])
        stands = pos <= np.take(first, np.take(st.g, pos))
        st.keep({t: f for t, f in found.items() if stands[t]}, complete, off_count, alloc)
        work = work[work > np.take(first, np.take(st.g, work))]
    return st.proposal()


class _State:
    """The receipts (in order), their payers' open invoices and the amounts still open."""

    def __init__(self, ctx: Context, fr: pl.DataFrame, groups: pl.DataFrame, oi: pl.DataFrame):
        cfg, ledger = ctx.cfg, ctx.ledger
        self.cfg, self.ledger = cfg, ledger
        self.open = ledger.inv_open.copy()
        self.applied: list[tuple] = []  # (receipt position, invoices, amounts, named)
        self.suggested: list[tuple] = []  # (receipt position, combinations, complete, off)
        self.prev: dict | None = None  # the last search, its receipts and answers
        self.n_groups = groups.height
        self.g_inv = oi.get_column("inv_idx").to_numpy()
        g_len = np.bincount(oi.get_column("g").to_numpy(), minlength=self.n_groups)
        self.g_off = np.concatenate([[0], np.cumsum(g_len)])
        r = fr.join(
            groups.rename({"customer_id": "c_pay"}),
            on=["c_pay", "currency"],
            how="left",
            maintain_order="left",
        ).select(pl.col("g").cast(pl.Int64).fill_null(-1))
        self.g = r.get_column("g").to_numpy()
        self.fr = fr
        self.rec_idx = fr.get_column("rec_idx").to_numpy()
        self.amt = fr.get_column("amt_c").to_numpy()
        self.count = fr.get_column("n_named").fill_null(0).to_numpy()
        in_group = self.g >= 0
        self.eligible = in_group & (np.take(g_len, np.maximum(self.g, 0)) >= 2)
        # invoices named by a receipt still waiting are left for that receipt
        self.claimed = np.zeros(self.open.size, dtype=bool)
        fresh = ctx.refs.join(ledger.fresh_receipts().select("rec_idx"), on="rec_idx", how="semi")
        self.claimed[fresh.get_column("inv_idx").to_numpy()] = True
        # the invoices each receipt names: (receipt position, invoice), named ones sorted
        # the way they are listed (date, number, index)
        pos = fr.select("rec_idx", "c_pay", "currency", pos=pl.int_range(pl.len()))
        named = (
            ctx.refs.select("rec_idx", "inv_idx")
            .join(pos, on="rec_idx")
            .unique(["pos", "inv_idx"])
            .join(
                ledger.inv.select(
                    "inv_idx", "invoice_date", "invoice_id", "customer_id", "currency"
                ),
                on="inv_idx",
                suffix="_inv",
            )
            .sort(["pos", "invoice_date", "invoice_id", "inv_idx"])
        )
        self.names_any = np.zeros(fr.height, dtype=bool)
        self.names_any[named.get_column("pos").to_numpy()] = True
        named = named.filter(
            (pl.col("customer_id") == pl.col("c_pay"))
            & (pl.col("currency_inv") == pl.col("currency"))
        )
        self.n_pos = named.get_column("pos").to_numpy()
        self.n_inv = named.get_column("inv_idx").to_numpy()
        # pairs people rejected
        self.rejected = None
        if ledger.rejected:
            rej = np.array(sorted(ledger.rejected), dtype=np.int64)
            self.rejected = np.unique(rej[:, 0] * self.open.size + rej[:, 1])
            self.n_rejected = np.zeros(fr.height, dtype=np.int64)
            rec_pos = np.full(ledger.rec.height, -1, dtype=np.int64)
            rec_pos[self.rec_idx] = np.arange(fr.height)
            p = np.take(rec_pos, rej[:, 0])
            np.add.at(self.n_rejected, p[p >= 0], 1)

    def _is_rejected(self, pos: np.ndarray, inv: np.ndarray) -> np.ndarray:
        if self.rejected is None:
            return np.zeros(pos.size, dtype=bool)
        return np.isin(np.take(self.rec_idx, pos) * self.open.size + inv, self.rejected)

    def candidates_of(self, pos: np.ndarray) -> np.ndarray:
        """The receipts among ``pos`` with two candidates or more, their candidates (named
        ones first, then the oldest open ones that fit, looking at no more than a few times
        as many open ones as there are candidate places) kept for :meth:`search`."""
        cfg, open_ = self.cfg, self.open
        R = pos.size
        if R == 0:
            return pos
        local = np.full(self.amt.size, -1, dtype=np.int64)
        local[pos] = np.arange(R)
        # named invoices still open, in this payer's group
        k = np.flatnonzero(np.take(local, self.n_pos) >= 0)
        npos, ninv = np.take(self.n_pos, k), np.take(self.n_inv, k)
        keep = np.take(open_, ninv) > 0
        npos, ninv = npos[keep], ninv[keep]
        has_open = np.zeros(self.amt.size, dtype=bool)
        has_open[npos] = True
        # the memo names invoices, none of them open for this payer: not a combination
        ok = ~(np.take(self.names_any, pos) & ~np.take(has_open, pos))
        keep = ~self._is_rejected(npos, ninv)
        npos, ninv = npos[keep], ninv[keep]
        nl = np.bincount(np.take(local, npos), minlength=R)
        namt = np.take(open_, ninv)
        nsum = np.bincount(np.take(local, npos), weights=namt, minlength=R).astype(np.int64)
        nmin = np.zeros(R, dtype=np.int64)
        if npos.size:
            m = np.full(R, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(m, np.take(local, npos), namt)
            nmin = np.where(nl > 0, m, 0)
        count = np.take(self.count, pos)
        forced = (count >= 2) & (count <= _COMBINED_HARD_MAX) & (count >= nl)
        amt = np.take(self.amt, pos)
        room = amt - np.where(forced, nsum, nmin)
        # the open, unclaimed invoices of each group, oldest first
        inv = self.g_inv
        elig = (np.take(open_, inv) > 0) & ~np.take(self.claimed, inv)
        g_of = np.repeat(np.arange(self.n_groups), np.diff(self.g_off))
        e_inv = inv[elig]
        e_len = np.bincount(g_of[elig], minlength=self.n_groups)
        e_off = np.concatenate([[0], np.cumsum(e_len)])
        g = np.take(self.g, pos)
        look = _LOOK_PER_CANDIDATE * cfg.combined_max_candidates
        extra = 0 if self.rejected is None else np.take(self.n_rejected, pos)
        width = np.where(ok, np.minimum(look + extra, np.take(e_len, g)), 0)
        places = np.maximum(cfg.combined_max_candidates - nl, 0)
        owner, j = _ragged(width)
        cand = np.take(e_inv, np.take(e_off, np.take(g, owner)) + j)
        if self.rejected is not None:
            keep = ~self._is_rejected(np.take(pos, owner), cand)
            owner, cand = owner[keep], cand[keep]
            keep = _rank_in_run(owner) < look
            owner, cand = owner[keep], cand[keep]
        fits = np.take(open_, cand) <= np.take(room, owner)
        owner, cand = owner[fits], cand[fits]
        keep = _rank_in_run(owner) < np.take(places, owner)
        owner, cand = owner[keep], cand[keep]
        nu = np.bincount(owner, minlength=R)
        n = np.where(ok, nl + nu, 0)
        sel = np.flatnonzero(n >= 2)
        # candidate lists of the receipts kept: named ones, then the others
        lo = np.take(local, npos)
        rows_owner = np.concatenate([lo, owner])
        rows_inv = np.concatenate([ninv, cand])
        rows_ok = np.take(n, rows_owner) >= 2
        order = np.argsort(rows_owner[rows_ok], kind="stable")
        self.c_inv = np.take(rows_inv[rows_ok], order)
        self.c_off = np.concatenate([[0], np.cumsum(np.take(n, sel))])
        self.c_nl = np.take(nl, sel)
        self.c_forced = np.take(forced, sel)
        self.c_room = np.take(room, sel)
        self.pos_next = np.take(pos, sel)
        return self.pos_next

    def unchanged(self) -> tuple[np.ndarray, np.ndarray]:
        """Which receipts of the last :meth:`candidates_of` have the very candidates they
        had in the search before (their answer is the same), and where they were in it."""
        R, prev = self.c_nl.size, self.prev
        if prev is None:
            return np.zeros(R, dtype=bool), np.zeros(R, dtype=np.int64)
        at = np.full(self.amt.size, -1, dtype=np.int64)
        at[prev["pos"]] = np.arange(prev["pos"].size)
        u = np.take(at, self.pos_next)
        n = np.diff(self.c_off)
        same = (
            (u >= 0)
            & (self.c_nl == np.take(prev["nl"], u))
            & (n == np.take(np.diff(prev["off"]), np.maximum(u, 0)))
        )
        t = np.flatnonzero(same)
        owner, j = _ragged(np.take(n, t))
        now = np.take(self.c_inv, np.take(self.c_off, t)[owner] + j)
        before = np.take(prev["inv"], np.take(prev["off"], np.take(u, t))[owner] + j)
        differs = np.bincount(owner[now != before], minlength=t.size) > 0
        same[t[differs]] = False
        return same, u

    def search(
        self, pos: np.ndarray, unchanged: tuple[np.ndarray, np.ndarray]
    ) -> tuple[dict[int, list[list[int]]], np.ndarray, np.ndarray]:
        """Per receipt of the last :meth:`candidates_of` (index t into ``pos``): the
        combinations found (positions in its candidate list, receipts with some only),
        whether the search was complete, and whether the memo's count was missed. Receipts
        whose candidates did not change keep the answer of the search before."""
        cfg = self.cfg
        R = pos.size
        self.pos = pos
        self.amounts = amounts = np.take(self.open, self.c_inv)
        n, nl = np.diff(self.c_off), self.c_nl
        found: dict[int, list[list[int]]] = {}
        complete = np.ones(R, dtype=bool)
        same, u = unchanged
        forced = self.c_forced
        todo = forced & ~same
        k = np.where(forced, np.take(self.count, pos) - nl, 0)
        # a memo counting its invoices: exactly that many, every named one among them
        for t in np.flatnonzero(todo & (k == 0) & (self.c_room == 0)).tolist():
            found[t] = [list(range(int(nl[t])))]
        more = np.flatnonzero(todo & (k > 0))
        if more.size:
            f, c = subsets_many(
                *self._lists(more, np.take(nl, more)),
                np.take(self.c_room, more),
                0,
                np.take(k, more),
                cfg.combined_max_nodes,
                kmin=np.take(k, more),
            )
            complete[more] = c
            for v, combos in f.items():
                t, m = int(more[v]), int(nl[more[v]])
                found[t] = [[*range(m), *(m + x for x in fx)] for fx in combos]
        off_count = forced & ~same
        off_count[list(found)] = False
        # no combination of the counted size: what does add up is only a suggestion;
        # nothing to search where even the largest kmax candidates fall short
        kmax = cfg.combined_max_invoices
        owner = np.repeat(np.arange(R), n)
        span = int(amounts.max(initial=0)) + 1
        by_size = np.sort(owner * span + (span - 1 - amounts))  # per receipt, largest first
        top = _rank_in_run(by_size // span) < kmax
        largest = span - 1 - by_size % span
        best = np.bincount(owner[top], weights=largest[top], minlength=R).astype(np.int64)
        amt = np.take(self.amt, pos)
        rest = np.flatnonzero((off_count | ~forced) & ~same & (amt <= best))
        if rest.size:
            f, c = subsets_many(
                *self._lists(rest, np.zeros(rest.size, dtype=np.int64)),
                np.take(amt, rest),
                0,
                kmax,
                cfg.combined_max_nodes,
                first_within=np.take(nl, rest),
            )
            complete[rest] = c
            for v, combos in f.items():
                found[int(rest[v])] = combos
        prev = self.prev
        for t in np.flatnonzero(same).tolist():
            w = int(u[t])
            if w in prev["found"]:
                found[t] = prev["found"][w]
            complete[t], off_count[t] = prev["complete"][w], prev["off_count"][w]
        self.prev = {
            "pos": pos,
            "off": self.c_off,
            "inv": self.c_inv,
            "nl": self.c_nl,
            "found": found,
            "complete": complete,
            "off_count": off_count,
        }
        return found, complete, off_count

    def _lists(self, t: np.ndarray, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidate amounts of receipts t (without the first ``skip`` of each), as
        values and offsets."""
        m = np.take(np.diff(self.c_off), t) - skip
        owner, j = _ragged(m)
        start = np.take(self.c_off[:-1] + 0, t) + skip
        values = np.take(self.amounts, np.take(start, owner) + j)
        return values, np.concatenate([[0], np.cumsum(m)])

    def keep(self, found, complete, off_count, alloc) -> None:
        """Record what the receipts of the last search that stand lead to, and pay the
        invoices of the combinations applied."""
        for t, combos in found.items():
            lo = int(self.c_off[t])
            p = int(self.pos[t])
            if alloc[t]:
                chosen = self.c_inv[lo + np.asarray(combos[0], dtype=np.int64)]
                named = bisect_left(combos[0], int(self.c_nl[t]))  # named ones come first
                self.applied.append((p, chosen, self.open[chosen], named))
                self.open[chosen] = 0
            else:
                lists = [(self.c_inv[lo + np.asarray(f, dtype=np.int64)]) for f in combos]
                self.suggested.append(
                    (p, [(x, self.open[x]) for x in lists], bool(complete[t]), bool(off_count[t]))
                )

    def proposal(self) -> Proposal:
        sugg = None
        if self.suggested:
            self.suggested.sort(key=lambda x: x[0])
            # the ids of the invoices the suggestions name, gathered once
            named = np.unique(np.concatenate([i for _, c, _, _ in self.suggested for i, _ in c]))
            inv_id = dict(zip(named.tolist(), self.ledger.invoice_ids(named), strict=True))
            info = self.fr[[x[0] for x in self.suggested]].select("rec_idx", "c_pay", "n_named")
            rows = []
            for (_, combos, complete, off_count), (ri, c_pay, count) in zip(
                self.suggested, info.iter_rows(), strict=True
            ):
                for k, (invs, amts) in enumerate(combos):
                    ids = "|".join(inv_id[i] for i in invs.tolist())
                    why = (
                        f"but the memo counts {count or 0} invoices"
                        if off_count
                        else "other combinations also fit"
                        if complete
                        else "search cut short"
                    )
                    what = f"amount equals the sum of open invoices {ids.replace('|', ', ')}"
                    rows.append(
                        (
                            ri,
                            0,
                            c_pay,
                            ids,
                            int(amts.sum()),
                            0.5 - 0.05 * k,
                            "combined",
                            f"{what}; {why}",
                        )
                    )
            sugg = pl.DataFrame(rows, schema=SUGGESTION_ROWS, orient="row")
        if not self.applied:
            return Proposal(rows=proposal_rows([]), suggestions=sugg)
        self.applied.sort(key=lambda x: x[0])
        pos = np.array([x[0] for x in self.applied], dtype=np.int64)
        size = np.array([x[1].size for x in self.applied], dtype=np.int64)
        n_ref = np.array([x[3] for x in self.applied], dtype=np.int64)
        inv = np.concatenate([x[1] for x in self.applied])
        amount = np.concatenate([x[2] for x in self.applied])
        head = np.concatenate([[0], np.cumsum(size)[:-1]])
        receipts = (
            self.fr[pos.tolist()]
            .select("value_date", "receipt_id", "rec_idx", "c_pay", "payer_name", "amt_c")
            .with_columns(
                proposal=pl.Series(head),
                size=pl.Series(size),
                n_ref=pl.Series(n_ref),
                ids=pl.DataFrame(
                    {
                        "t": np.repeat(np.arange(pos.size), size),
                        "id": self.ledger.inv.get_column("invoice_id").gather(inv),
                    }
                )
                .group_by("t", maintain_order=True)
                .agg(pl.col("id").str.join(", "))
                .get_column("id"),
            )
        )
        payer = pl.col("payer_name").fill_null("").str.replace_all("\n", " ", literal=True)
        payer = payer.str.replace_all("'", "’", literal=True)
        payer = (
            pl.when(payer.str.len_chars() <= 40)
            .then(payer)
            .otherwise(payer.str.slice(0, 39) + pl.lit("…"))
        )
        receipts = receipts.with_columns(
            pl.when(pl.col("n_ref") == pl.col("size"))
            .then(pl.lit("combined.named"))
            .otherwise(pl.lit("combined.amount"))
            .alias("rule_id"),
            pl.format(
                "payer '{}' is customer {}; amount {} = open invoices {} ({} invoices, {} named "
                "in memo), the only combination that adds up",
                payer,
                "c_pay",
                fmt_cents_expr("amt_c"),
                "ids",
                "size",
                "n_ref",
            ).alias("reason"),
        )
        owner = np.repeat(np.arange(pos.size), size)
        rows = receipts.select(
            "proposal", "value_date", "receipt_id", "rec_idx", "rule_id", "reason"
        )[owner.tolist()].with_columns(
            rank=pl.lit(0, dtype=pl.Int64),
            inv_idx=pl.Series(inv),
            kind=pl.lit("cash"),
            applied_c=pl.Series(amount),
            receipt_c=pl.Series(amount),
            rule=pl.lit("combined"),
            flags=pl.lit(""),
        )
        return Proposal(rows=rows.select(list(PROPOSAL_ROWS)).cast(PROPOSAL_ROWS), suggestions=sugg)


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts c_k: owner k repeated c_k times, and 0 .. c_k - 1 for each owner."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    start = np.cumsum(counts) - counts
    return owner, np.arange(owner.size, dtype=np.int64) - np.take(start, owner)


def _rank_in_run(owner: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal (sorted) ``owner``."""
    if owner.size == 0:
        return owner.copy()
    first = np.ones(owner.size, dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    start = np.flatnonzero(first)
    return np.arange(owner.size) - np.take(start, np.cumsum(first) - 1)


RULE = Rule(
    id="combined",
    switch="combined",
    description="the only combination of 2..k open invoices of the payer that adds up to "
    "the receipt exactly (named invoices first, then the oldest that fit)",
    receipts=Receipts(payer=True),
    propose=propose,
    ties="in_order",
    confidence={"combined.named": 0.9, "combined.amount": 0.8},
    settings=("combined_max_invoices", "combined_max_candidates", "combined_max_nodes"),
)
