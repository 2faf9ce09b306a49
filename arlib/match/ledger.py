"""The ledger of one matching run: balances, locks, reservations, rejections, allocations.

Rules never touch it: they read it and return a :class:`~arlib.match.cascade.Proposal`;
the cascade hands the proposal's rows to :meth:`Ledger.apply`, the single place where
balances move. ``apply`` refuses, with a :class:`LedgerError` naming the rule and the
documents, anything that would break conservation: an invoice cleared beyond its open
amount, a receipt spent beyond what is left of it, cash taken by a write-off row. These are
``raise`` statements, not ``assert``: a money invariant must hold under ``python -O`` too.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

import numpy as np
import polars as pl

from arlib.match.frames import ALLOCATION_ROWS, KINDS
from arlib.money import fmt_cents


class LedgerError(RuntimeError):
    """A rule proposed allocations that would break conservation (a bug, never bad data)."""


class Ledger:
    """Open balances (cents) of the prepared invoices and receipts, and what moved them."""

    def __init__(self, inv: pl.DataFrame, rec: pl.DataFrame):
        self.inv = inv
        self.rec = rec
        self.inv_open = inv.get_column("start_c").to_numpy().copy()
        self.rec_amt = rec.get_column("amt_c").to_numpy()
        self.rec_rem = self.rec_amt.copy()
        #: receipts under people's control (a decision names them): no rule touches them
        self.locked = np.zeros(rec.height, dtype=bool)
        #: receipts left to reference and manual matching only: cash carried in from a closed
        #: period, suspected duplicate payments
        self.reserved = (rec.get_column("origin") == "opening").fill_null(False).to_numpy().copy()
        #: receipts held for people: a reference names several invoices and
        #: ``unique_reference_only`` is on; only the suggestions look at them
        self.held = np.zeros(rec.height, dtype=bool)
        self.rejected: set[tuple[int, int]] = set()
        self.frames: list[pl.DataFrame] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._open: pl.DataFrame | None = None  # open_invoices() until the balances move
        self._alloc: tuple[int, pl.DataFrame] | None = None  # allocations(), per len(frames)

    def invoice_ids(self, inv_idx) -> list[str]:
        """The invoice_id of each of ``inv_idx`` (positions), for the reasons rules write:
        gathered, not a Python list of a million ids."""
        return self.inv.get_column("invoice_id").gather(inv_idx).to_list()

    @cached_property
    def payer_factor(self) -> pl.Series:
        """What a receipt's allocations' confidence is multiplied by: the payer's fuzzy-match
        score where the payer was matched by a fuzzy name, else 1 (by rec_idx)."""
        fuzzy = pl.col("payer_method") == "fuzzy"
        return self.rec.select(pl.when(fuzzy).then("payer_score").otherwise(1.0)).to_series()

    # views -------------------------------------------------------------------------------
    def open_invoices(self) -> pl.DataFrame:
        """The invoices still open, with ``open_c``; made once per change of the balances
        (several rules, and some rules twice, read it between two applications)."""
        if self._open is None:
            self._open = self.inv.with_columns(open_c=pl.Series(self.inv_open)).filter(
                pl.col("open_c") > 0
            )
        return self._open

    def fresh_mask(self, *, reserved: bool = True, held: bool = True) -> np.ndarray:
        """Receipts no rule has touched yet, positive, not under people's control; without
        ``reserved`` also not reserved for reference matching, without ``held`` not held
        for people (a boolean array by rec_idx)."""
        mask = (self.rec_rem == self.rec_amt) & (self.rec_amt > 0) & ~self.locked
        if not reserved:
            mask &= ~self.reserved
        if not held:
            mask &= ~self.held
        return mask

    def fresh_receipts(self, *, reserved: bool = True, held: bool = True) -> pl.DataFrame:
        """The receipts of :meth:`fresh_mask`."""
        return self.rec.filter(pl.Series(self.fresh_mask(reserved=reserved, held=held)))

    def drop_rejected(self, cands: pl.DataFrame) -> pl.DataFrame:
        """Candidates without the (receipt, invoice) pairs people rejected."""
        if not self.rejected or cands.height == 0:
            return cands
        rej = pl.DataFrame(
            list(self.rejected), schema={"rec_idx": pl.Int64, "inv_idx": pl.Int64}, orient="row"
        )
        return cands.join(rej, on=["rec_idx", "inv_idx"], how="anti")

    def allocations(self) -> pl.DataFrame:
        """Every allocation so far; concatenated once per application (the cascade, the
        check after it and the result read it with nothing applied in between)."""
        if self._alloc is None or self._alloc[0] != len(self.frames):
            frames = [f for f in self.frames if f.height]
            out = pl.concat(frames) if frames else pl.DataFrame(schema=ALLOCATION_ROWS)
            self._alloc = (len(self.frames), out.cast(ALLOCATION_ROWS))
        return self._alloc[1]

    # changes -----------------------------------------------------------------------------
    def lock(self, rec_idx: list[int]) -> None:
        self.locked[np.asarray(rec_idx, dtype=np.int64)] = True

    def reserve(self, rec_idx: list[int]) -> None:
        self.reserved[np.asarray(rec_idx, dtype=np.int64)] = True

    def hold(self, rec_idx: list[int]) -> None:
        self.held[np.asarray(rec_idx, dtype=np.int64)] = True

    def reject(self, pairs: set[tuple[int, int]]) -> None:
        self.rejected |= pairs

    def apply(self, rows: pl.DataFrame, rule: str, *, locked_ok: bool = False) -> None:
        """Move the balances by ``rows`` (:data:`ALLOCATION_ROWS`), or raise LedgerError.

        Checked: known kinds; no negative cash; a write-off row (bank charge, discount, ...)
        consumes no cash; per invoice the rows clear at most what is open and never reopen
        it; per receipt they spend at most what is left; no receipt under people's control
        (``locked``) is touched except by the rule that holds it (``locked_ok``)."""
        if rows.height == 0:
            return
        rows = rows.select(list(ALLOCATION_ROWS)).cast(ALLOCATION_ROWS)
        bad_kind = rows.filter(~pl.col("kind").is_in(KINDS))
        if bad_kind.height:
            raise LedgerError(f"{rule}: unknown allocation kind {bad_kind['kind'][0]!r}")
        wrong = rows.filter(
            (pl.col("receipt_c") < 0)
            | ((pl.col("kind") == "cash") & (pl.col("applied_c") < 0))
            | ((pl.col("kind") != "cash") & (pl.col("receipt_c") != 0))
        )
        if wrong.height:
            r = wrong.row(0, named=True)
            raise LedgerError(
                f"{rule}: row {r['kind']} receipt {r['receipt_id']} on invoice "
                f"{self.invoice_ids([r['inv_idx']])[0]} takes {fmt_cents(r['receipt_c'])} of cash "
                f"for "
                f"{fmt_cents(r['applied_c'])}: cash rows are never negative and write-off rows "
                "take no cash"
            )
        ii, cleared = _sums(rows, "inv_idx", "applied_c", self.inv.height)
        new_open = self.inv_open[ii] - cleared
        over = np.flatnonzero((new_open < 0) | (cleared < 0))
        if over.size:
            k = int(ii[over[0]])
            raise LedgerError(
                f"{rule}: invoice {self.invoice_ids([k])[0]} is open "
                f"{fmt_cents(self.inv_open[k])}; the "
                f"rule would clear {fmt_cents(cleared[over[0]])} of it"
            )
        ri, spent = _sums(
            rows.filter(pl.col("rec_idx").is_not_null()), "rec_idx", "receipt_c", self.rec.height
        )
        new_rem = self.rec_rem[ri] - spent
        over = np.flatnonzero(new_rem < 0)
        if over.size:
            k = int(ri[over[0]])
            raise LedgerError(
                f"{rule}: receipt {self.rec['receipt_id'][k]} has {fmt_cents(self.rec_rem[k])} "
                f"left; the rule would spend {fmt_cents(spent[over[0]])} of it"
            )
        if not locked_ok and self.locked[ri].any():
            k = int(ri[np.flatnonzero(self.locked[ri])[0]])
            raise LedgerError(
                f"{rule}: receipt {self.rec['receipt_id'][k]} is under people's control (a "
                "decision names it); no rule may apply it"
            )
        self.inv_open[ii] = new_open
        self._open = None
        self.rec_rem[ri] = new_rem
        for name, n in (
            rows.filter(pl.col("kind") != "credit_note").group_by("rule").len().iter_rows()
        ):
            self.counts[name] += n
        self.frames.append(rows)

    def verify(self) -> pl.DataFrame:
        """Every allocation, after proving conservation: per invoice, what the rows cleared
        plus what is open equals what was open at the start, never beyond; per receipt,
        what the rows spent plus what is left equals the amount received. Sums by position
        in exact integer cents (``np.add.at``), independent of the balances ``apply`` kept."""
        alloc = self.allocations()
        if alloc.get_column("inv_idx").null_count():
            raise LedgerError("an allocation row names no invoice")
        cleared = np.zeros(self.inv.height, dtype=np.int64)
        np.add.at(
            cleared,
            alloc.get_column("inv_idx").to_numpy(),
            alloc.get_column("applied_c").to_numpy(),
        )
        start, open_c = self.inv.get_column("start_c").to_numpy(), self.inv_open
        broken = np.flatnonzero(
            (cleared + open_c != start) | ((start > 0) & ((open_c < 0) | (cleared < 0)))
        )
        if broken.size:
            raise LedgerError(
                f"invoice {self.inv['invoice_id'][int(broken[0])]}: allocations do not conserve"
            )
        of_receipts = alloc.filter(pl.col("rec_idx").is_not_null())
        used = np.zeros(self.rec.height, dtype=np.int64)
        np.add.at(
            used,
            of_receipts.get_column("rec_idx").to_numpy(),
            of_receipts.get_column("receipt_c").to_numpy(),
        )
        amt, rem = self.rec_amt, self.rec_rem
        broken = np.flatnonzero((used + rem != amt) | ((amt > 0) & ((rem < 0) | (rem > amt))))
        if broken.size:
            raise LedgerError(
                f"receipt {self.rec['receipt_id'][int(broken[0])]}: allocations do not conserve"
            )
        return alloc


def _sums(rows: pl.DataFrame, at: str, amount: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``rows[at]`` names, ascending, and the sum of ``rows[amount]`` (null:
    0) at each: exact integer cents by position (``np.add.at``), no hash grouping."""
    where = rows.get_column(at).to_numpy()
    total = np.zeros(size, dtype=np.int64)
    np.add.at(total, where, rows.get_column(amount).fill_null(0).to_numpy())
    seen = np.zeros(size, dtype=bool)
    seen[where] = True
    hit = np.flatnonzero(seen)
    return hit, total[hit]
