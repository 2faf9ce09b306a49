"""Balance-forward customers (``policy: balance_forward``) pay their account, not invoices.

Cash is applied oldest-first (invoice_date, invoice_id) to their open invoices, but only
when nothing better identifies the invoice: the memo names no invoice, and the amount is
not equal to (nor a keying error of) one of the customer's open invoices -- those are left
to the suggestions.

Receipts in (value_date, receipt_id) order pour into the invoices oldest first, so per
customer and currency a receipt takes the stretch of the running total of the invoices'
open amounts that the running total of the receipts marks out: sorted searches, no loop.
Only a customer with a receipt people rejected an invoice for is walked one receipt at a
time (that receipt skips the invoice, a later one may not).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.keying import transpositions_np
from arlib.match.arrays import distinct, runs, spans, sum_before
from arlib.match.cascade import Context, Proposal, Receipts, Rule
from arlib.match.prepare import cash_rows
from arlib.money import fmt_cents_expr

TOP = np.iinfo(np.int64).max


def _typos(g: np.ndarray, o: np.ndarray) -> pl.DataFrame:
    """(_g, amt_c): the open amounts of each key and what a receipt keyed wrongly from one
    would read (×10, ×100, ÷10 and ÷100 when exact, two digits swapped)."""
    rows, swapped = transpositions_np(o)
    parts = [(g, o), (g[rows], swapped)]
    for f in (10, 100):
        up, down = o <= TOP // f, o % f == 0
        parts += [(g[up], o[up] * f), (g[down], o[down] // f)]
    return pl.DataFrame(
        {
            "_g": np.concatenate([p[0] for p in parts]),
            "amt_c": np.concatenate([p[1] for p in parts]),
        }
    )


def _one_by_one(
    rec: list[tuple[int, int, int, int]], inv: dict[int, list[tuple[int, int, int]]], rejected
) -> list[tuple[int, int, int, int]]:
    """(receipt, invoice, applied, open before) rows of the receipts ``rec`` (position,
    key, rec_idx, amount) in order, poured one at a time into ``inv`` (key -> (position,
    inv_idx, open) oldest first), each skipping the invoices people rejected for it."""
    out = []
    opens = {k: [o for _, _, o in v] for k, v in inv.items()}
    for p, g, ri, rem in rec:
        for at, (q, i, _) in enumerate(inv[g]):
            if rem <= 0:
                break
            o = opens[g][at]
            if o <= 0 or (ri, i) in rejected:
                continue
            a = min(rem, o)
            rem -= a
            opens[g][at] -= a
            out.append((p, q, a, o))
    return out


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    if receipts.height == 0:
        return Proposal()
    # rec_idx and inv_idx follow receipt_id and invoice_id (the prepared frames are sorted
    # by them); a key is a customer and a currency
    fr = receipts.select("rec_idx", "receipt_id", "value_date", "currency", "amt_c", "c_pay")
    keys = fr.select("c_pay", "currency").unique().sort(["c_pay", "currency"]).with_row_index("_g")
    keys = keys.with_columns(pl.col("_g").cast(pl.Int64))
    inv = (
        ledger.inv.select(
            "inv_idx", pl.col("customer_id").alias("c_pay"), "currency", "invoice_date"
        )
        .with_columns(open_c=pl.Series(ledger.inv_open))
        .filter(pl.col("open_c") > 0)
        .join(keys, on=["c_pay", "currency"], nulls_equal=True)
        .sort(["_g", "invoice_date", "inv_idx"])
    )
    i_g, i_open = inv.get_column("_g").to_numpy(), inv.get_column("open_c").to_numpy()
    i_idx = inv.get_column("inv_idx").to_numpy()
    # an amount equal to (or a keying error of) an open invoice of the key is left
    fr = (
        fr.join(keys, on=["c_pay", "currency"], nulls_equal=True)
        .join(inv.select("_g").unique(), on="_g", how="semi")
        .join(_typos(i_g, i_open), on=["_g", "amt_c"], how="anti")
        .sort(["value_date", "rec_idx"])
    )
    if fr.height == 0:
        return Proposal()
    r_g, r_amt, r_ri = (fr.get_column(c).to_numpy() for c in ("_g", "amt_c", "rec_idx"))
    # per key the running totals: each invoice's stretch [i_lo, i_hi), each receipt's
    # [r_lo, r_hi) (exact while a key's own totals fit an Int64)
    by_key = np.argsort(r_g, kind="stable")
    r_lo = np.empty(fr.height, dtype=np.int64)
    r_lo[by_key] = sum_before(r_amt[by_key], *runs(r_g[by_key]))
    r_hi = r_lo + r_amt
    i_lo = sum_before(i_open, *runs(i_g))
    i_hi = i_lo + i_open
    span = np.searchsorted(i_g, np.arange(keys.height + 1))  # a key's invoices
    # a receipt takes the invoices whose stretch ends past its start, up to the first that
    # reaches its end (a sorted search in (key, running total) order)
    values = distinct(i_hi)
    width = values.size + 1
    key = i_g * width + np.searchsorted(values, i_hi)
    start = np.searchsorted(key, r_g * width + np.searchsorted(values, r_lo, side="right"))
    stop = np.searchsorted(key, r_g * width + np.searchsorted(values, r_hi, side="left"))
    stop = np.minimum(stop + 1, span[r_g + 1])
    walked = set()
    if ledger.rejected:
        mine = {ri for ri, _ in ledger.rejected}
        walked = {int(g) for g, ri in zip(r_g.tolist(), r_ri.tolist(), strict=True) if ri in mine}
    alone = np.flatnonzero(~np.isin(r_g, list(walked)))
    p, q = spans(start[alone], stop[alone])
    p = alone[p]
    a = np.minimum(r_hi[p], i_hi[q]) - np.maximum(r_lo[p], i_lo[q])
    o = i_hi[q] - np.maximum(r_lo[p], i_lo[q])
    parts = [pl.DataFrame({"_p": p, "_q": q, "_a": a, "_o": o})]
    if walked:
        walk = zip(r_g.tolist(), r_ri.tolist(), r_amt.tolist(), strict=True)
        rec = [(k, g, ri, amt) for k, (g, ri, amt) in enumerate(walk) if g in walked]
        invs = {
            g: [(q, int(i_idx[q]), int(i_open[q])) for q in range(span[g], span[g + 1])]
            for g in walked
        }
        rows = _one_by_one(rec, invs, ledger.rejected)
        parts.append(pl.DataFrame(rows, schema=parts[0].schema, orient="row"))
    applied = pl.concat(parts).sort("_p", maintain_order=True)
    if applied.height == 0:
        return Proposal()
    p, q = applied.get_column("_p").to_numpy(), applied.get_column("_q").to_numpy()
    # the rows of one receipt stand together: the number of the receipt's first row
    firsts, run = runs(p)
    a, o = pl.col("_a"), pl.col("_o")
    reason = pl.concat_str(
        pl.lit("customer "),
        pl.col("c_pay"),
        pl.lit(" pays on balance forward: "),
        fmt_cents_expr(a),
        pl.lit(" applied oldest-first to invoice "),
        pl.col("invoice_id"),
        pl.lit(" (open "),
        fmt_cents_expr(o),
        pl.lit("); the memo names no invoice and no open invoice has the receipt's amount"),
    )
    rows = pl.concat(
        [
            fr[p].select("value_date", "receipt_id", "rec_idx", "c_pay"),
            inv[q].select("inv_idx"),
            ledger.inv.select("invoice_id")[i_idx[q]],
            applied.select("_a", "_o"),
            pl.DataFrame({"_n": firsts[run]}),
        ],
        how="horizontal",
    )
    return Proposal(
        rows=cash_rows(
            rows,
            applied=a,
            proposal=pl.col("_n"),
            meta=[
                pl.lit("balance_forward").alias("rule"),
                pl.lit("balance_forward.oldest_first").alias("rule_id"),
                reason.alias("reason"),
                pl.when(a < o).then(pl.lit("partial")).otherwise(pl.lit("")).alias("flags"),
            ],
        )
    )


RULE = Rule(
    id="balance_forward",
    switch="balance_forward",
    description="balance-forward customers: cash naming no invoice, not equal to (nor a "
    "keying error of) an open invoice, applied oldest-first",
    receipts=Receipts(payer=True, references="without", policy="balance_forward"),
    propose=propose,
    ties="in_order",
    confidence={"balance_forward.oldest_first": 0.75},
)
