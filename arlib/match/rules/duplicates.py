"""Suspected duplicate payments are reserved for reference and manual matching.

A receipt that names an invoice already cleared, for that invoice's amount; or that has a
twin (same payer, currency and amount, value dates at most 7 days apart) already applied,
unless its memo names an invoice of the payer still open. The exceptions stage classifies
them; no other invoice may absorb the cash. Runs after each rule that clears invoices by
reference or exact amount, so a copy paid later is recognised.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    ledger, refs, fr = ctx.ledger, ctx.refs, receipts
    if fr.height == 0:
        return Proposal()
    # the references of these receipts, with what is open of each named invoice now (inv_idx
    # and rec_idx are positions: gathers, not joins)
    mine = refs.select("rec_idx", "inv_idx").join(fr.select("rec_idx"), on="rec_idx", how="semi")
    ii = mine.get_column("inv_idx")
    mine = mine.with_columns(
        pl.Series("open_c", ledger.inv_open).gather(ii),
        ledger.inv.get_column("amt_c").gather(ii).alias("inv_amt_c"),
        ledger.inv.get_column("customer_id").gather(ii).alias("c_inv"),
        ledger.rec.get_column("amt_c").gather(mine.get_column("rec_idx")),
        ledger.rec.get_column("c_pay").gather(mine.get_column("rec_idx")),
    )
    named = mine.filter((pl.col("open_c") == 0) & (pl.col("amt_c") == pl.col("inv_amt_c")))
    # a memo naming an invoice still open is no copy of a payment already applied
    # (an open invoice of the payer's own customer)
    names_open = mine.filter((pl.col("open_c") > 0) & (pl.col("c_inv") == pl.col("c_pay")))
    done = ledger.rec.with_columns(rem=pl.Series(ledger.rec_rem)).filter(
        (pl.col("rem") < pl.col("amt_c")) & pl.col("c_pay").is_not_null()
    )
    twins = (
        fr.filter(pl.col("c_pay").is_not_null())
        .join(names_open.select("rec_idx"), on="rec_idx", how="anti")
        .select("rec_idx", "c_pay", "currency", "amt_c", "value_date")
        .join(
            done.select("c_pay", "currency", "amt_c", pl.col("value_date").alias("vd2")),
            on=["c_pay", "currency", "amt_c"],
        )
        .filter((pl.col("value_date") - pl.col("vd2")).dt.total_days().abs() <= 7)
    )
    idx = pl.concat([named.select("rec_idx"), twins.select("rec_idx")]).unique()
    return Proposal(reserve=tuple(idx.get_column("rec_idx").sort().to_list()))


AFTER_REFERENCE = Rule(
    id="duplicate",
    switch=None,
    description="a receipt naming an invoice already cleared, for its amount, or the twin of "
    "a receipt already applied (same payer, currency, amount, within 7 days) is reserved: no "
    "other invoice may absorb it",
    receipts=Receipts(),
    propose=propose,
    ties="in_order",
    confidence={},
)
AFTER_EXACT = replace(AFTER_REFERENCE, id="duplicate.after_exact", switch="exact_amount")
