"""Partial payments: a receipt naming open invoices whose amount does not fit them.

Applied oldest-first to the named invoices, flagged ``partial`` (the invoice stays partly
open) or ``overpayment`` (cash left unapplied). A receipt equal to one of the invoices it
names was ambiguous, not partial; an amount that is a keying error of a named invoice is
left to people (suggestion), never applied in part.

Receipts are applied in (value_date, receipt_id) order, each seeing what earlier ones left
open. Most are worked out in bulk: a receipt whose invoices no other receipt names, and
the receipts that each name one invoice and only it (instalments: a running sum per
invoice); the rest one at a time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.keying import is_keying_error_np
from arlib.match.arrays import runs, sum_before
from arlib.match.cascade import Context, Proposal, Receipts, Rule
from arlib.match.prepare import cash_rows, ref_candidates
from arlib.money import fmt_cents_expr

#: what a receipt applied to one invoice it names: the candidate row, the invoice's open
#: amount before, the amount applied, and what is left of the receipt after all its rows
APPLIED = {"_row": pl.Int64, "_o": pl.Int64, "_a": pl.Int64, "_rem": pl.Int64}


def _one_by_one(c: pl.DataFrame, inv_open: np.ndarray) -> pl.DataFrame:
    """:data:`APPLIED` rows of the receipts of ``c`` (candidate rows in order) applied one
    at a time, each seeing what earlier ones left open."""
    inv_open = inv_open.copy()
    out: list[tuple[int, int, int, int]] = []
    g = c.group_by("rec_idx", maintain_order=True).agg(
        pl.col("amt_c").first(), pl.col("_keyed").first(), "_row", "inv_idx"
    )
    for _, rem, keyed, rows, invs in g.iter_rows():
        if keyed and not any(inv_open[i] == rem for i in invs):
            continue
        pending = []
        for row, i in zip(rows, invs, strict=True):
            if rem <= 0:
                break
            o = int(inv_open[i])
            if o <= 0:
                continue
            a = min(rem, o)
            rem -= a
            pending.append((row, i, o, a))
        for row, i, o, a in pending:
            inv_open[i] -= a
            out.append((row, o, a, rem))
    return pl.DataFrame(out, schema=APPLIED, orient="row")


def _short(text: pl.Expr, n: int = 60) -> pl.Expr:
    """The polars form of :func:`arlib.match.frames.short`."""
    t = text.fill_null("").str.replace_all("\n", " ", literal=True)
    t = t.str.replace_all("'", "’", literal=True)
    return pl.when(t.str.len_chars() <= n).then(t).otherwise(t.str.slice(0, n - 1) + "…")


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger = ctx.ledger
    c = ref_candidates(ledger, receipts, ctx.refs, ctx.customers).filter(
        (pl.col("rel") != "other") & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    # a receipt equal to one of the invoices it names was ambiguous, not partial: leave it
    c = c.filter(~(pl.col("open_c") == pl.col("amt_c")).any().over("rec_idx"))
    if c.height == 0:
        return Proposal()
    # an amount that is a keying error of a named invoice's open or invoiced amount is not a
    # partial payment: left as a suggestion (amount_typo) -- unless, earlier instalments of
    # this pass applied, it is exactly what is left open (the last instalment)
    amt, inv_amt = c.get_column("amt_c").to_numpy(), c.get_column("inv_amt_c").fill_null(0)
    typo = is_keying_error_np(amt, c.get_column("open_c").to_numpy())
    typo |= is_keying_error_np(amt, inv_amt.to_numpy())
    # receipts in (value_date, receipt_id) order, each one's invoices oldest first (rec_idx
    # and inv_idx follow receipt_id and invoice_id: the prepared frames are sorted by them)
    c = c.with_columns(pl.Series("_typo", typo)).sort(
        ["value_date", "rec_idx", "invoice_date", "inv_idx"]
    )
    n = c.height
    amt, open_ = c.get_column("amt_c").to_numpy(), c.get_column("open_c").to_numpy()
    rec, inv = c.get_column("rec_idx").to_numpy(), c.get_column("inv_idx").to_numpy()
    # a receipt's rows are consecutive; an invoice's rows, in receipt order, are by_inv's
    r_first, r_of = runs(rec)
    by_inv = np.argsort(inv, kind="stable")
    i_first, i_sorted = runs(inv[by_inv])
    i_of = np.empty(n, dtype=np.int64)
    i_of[by_inv] = i_sorted
    keyed = np.logical_or.reduceat(c.get_column("_typo").to_numpy(), r_first)[r_of]
    single = (np.diff(np.append(r_first, n)) == 1)[r_of]
    alone = np.logical_and.reduceat((np.diff(np.append(i_first, n)) == 1)[i_of], r_first)[r_of]
    # in bulk: a receipt whose invoices no other receipt names, as they are open (a keying
    # error is not what is left open of one: it is left); and the receipts naming one
    # invoice and only it, none a keying error: each takes what the earlier ones left
    chain = np.logical_and.reduceat(single[by_inv], i_first)
    chain = (chain & ~np.logical_or.reduceat(keyed[by_inv], i_first))[i_of]
    paid_before = np.empty(n, dtype=np.int64)
    paid_before[by_inv] = sum_before(amt[by_inv], i_first, i_sorted)
    o = np.where(single, np.maximum(open_ - paid_before, 0), open_)
    a = np.maximum(np.minimum(amt - np.where(single, 0, sum_before(open_, r_first, r_of)), o), 0)
    used = np.where(single, a, np.add.reduceat(open_, r_first)[r_of])
    bulk = np.flatnonzero(((alone & ~keyed) | chain) & (a > 0))
    rem = np.maximum(amt - used, 0)
    c = c.with_columns(pl.Series("_row", np.arange(n)), pl.Series("_keyed", keyed))
    applied = pl.concat(
        [
            pl.DataFrame({"_row": bulk, "_o": o[bulk], "_a": a[bulk], "_rem": rem[bulk]}),
            _one_by_one(c.filter(pl.Series(~alone & ~chain)), ledger.inv_open),
        ]
    ).sort("_row")
    if applied.height == 0:
        return Proposal()
    at = applied.get_column("_row").to_numpy()
    first = r_first[r_of][at]  # the row of the receipt's oldest invoice: its src and text
    # the rows of one receipt stand together: the number of the receipt's first row
    new = np.flatnonzero(np.append(True, first[1:] != first[:-1]))
    head = new[np.cumsum(np.append(True, first[1:] != first[:-1])) - 1]
    rows = pl.concat(
        [
            c[at].drop("src", "text"),
            c.select("src", "text")[first],
            applied.select("_o", "_a", "_rem"),
            pl.DataFrame({"_n": head}),
        ],
        how="horizontal",
    )
    o, a, rem, related = pl.col("_o"), pl.col("_a"), pl.col("_rem"), pl.col("rel") == "related"

    def text(*parts) -> pl.Expr:
        return pl.concat_str([pl.lit(x) if isinstance(x, str) else x for x in parts])

    reason = text(
        pl.col("src"),
        " '",
        _short(pl.col("text")),
        "' names invoice ",
        pl.col("invoice_id"),
        " (open ",
        fmt_cents_expr(o),
        "); applied ",
        fmt_cents_expr(a),
        pl.when(a < o)
        .then(text(" as a partial payment, ", fmt_cents_expr(o - a), " left open"))
        .otherwise(pl.lit("")),
        pl.when(rem > 0)
        .then(text("; ", fmt_cents_expr(rem), " of the receipt left unapplied (overpayment)"))
        .otherwise(pl.lit("")),
        pl.when(related)
        .then(text("; paid by related company ", pl.col("c_pay"), " for ", pl.col("c_inv")))
        .otherwise(pl.lit("")),
    )
    flags = pl.concat_str(
        pl.when(a < o).then(pl.lit("partial")),
        pl.when(rem > 0).then(pl.lit("overpayment")),
        pl.when(related).then(pl.lit("third_party")),
        separator="|",
        ignore_nulls=True,
    )
    sub_rule = pl.when(pl.col("rel") == "own").then(pl.lit("partial.named"))
    return Proposal(
        rows=cash_rows(
            rows,
            applied=a,
            proposal=pl.col("_n"),
            meta=[
                pl.lit("partial").alias("rule"),
                sub_rule.otherwise(pl.lit("partial.named_other_payer")).alias("rule_id"),
                reason.alias("reason"),
                flags.alias("flags"),
            ],
        )
    )


RULE = Rule(
    id="partial",
    switch="partial",
    description="a receipt naming open invoices (own, related or unidentified payer) whose "
    "amount fits none of them: applied oldest-first to them, the rest left open (partial) or "
    "unapplied (overpayment)",
    receipts=Receipts(references="with"),
    propose=propose,
    ties="in_order",
    confidence={"partial.named": 0.85, "partial.named_other_payer": 0.75},
)
