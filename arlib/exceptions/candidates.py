"""Which open invoices a residual receipt may relate to, found by equi-joins on integer-cent
keys (a superset the exact checks then decide)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR

import polars as pl

from arlib.exceptions.config import ExceptionConfig
from arlib.keying import transpositions_expr
from arlib.money import cents_expr, to_cents

# candidate-search tags: which check an invoice key serves (see ``candidate_hits``)
NEAR, EXACT, DISCOUNT, CHARGE = 0, 1, 2, 3


def truthy(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) != "")


def candidate_hits(
    residual: pl.DataFrame, invoices: pl.DataFrame, config: ExceptionConfig, term_rates
) -> pl.DataFrame:
    """(``_ord``, ``_tag``, ``invoice_id``): the open invoices of a residual receipt's customer
    (same currency) that *may* pass a check, found by equi-joins on integer-cent keys.

    A superset: the exact Decimal checks (``pattern``, ``discount_on_receipt``,
    ``charge_on_receipt``) still decide, on these pairs only. Tags:

    - ``NEAR``: the receipt is within ``near`` cents of an invoice key (rounding, tax, ÷ shift),
      compared by bucket (key // near, the receipt's bucket ± 1).
    - ``EXACT``: the invoice amount equals receipt ÷ factor (× shift) or a transposition.
    - ``DISCOUNT``: within ``near`` cents of invoice × (1 − rate), by bucket as ``NEAR``.
    - ``CHARGE``: invoice owed in (receipt, receipt + bank-charge tolerance of the currency],
      by bucket of that tolerance.
    """
    c = config
    # tolerances as the cents they reach (ceiling) or always include (floor)
    near = max(0, *(to_cents(t, ROUND_CEILING) for t in (c.rounding_tolerance, c.tax_tolerance)))
    near += 3
    # a bank charge is a shortfall in (rounding tolerance, tolerance of the currency]
    short_min = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    short_max = c.bank_charge_cents(pl.col("currency")).fill_null(
        to_cents(c.bank_charge_tolerance, ROUND_FLOOR)
    )
    factors = [int(f) for f in c.shift_factors if int(f) > 0]
    empty = pl.DataFrame(schema={"_ord": pl.UInt32, "_tag": pl.Int32, "invoice_id": pl.String})

    ask = residual.filter(truthy("_customer") & pl.col("_pc").is_not_null()).select(
        "_ord", pl.col("_customer").alias("customer_id"), "currency", "_pc"
    )
    if ask.height == 0:
        return empty
    # each (customer, currency) of a residual receipt as an integer, so the keys exploded
    # and joined below are integers only
    pair = ["customer_id", "currency"]
    groups = (
        ask.select(pair)
        .unique()
        .with_row_index("_g")
        .with_columns(pl.col("_g") * 4, short_max.clip(lower_bound=1).alias("_w"))
    )
    ask = ask.join(groups, on=pair, nulls_equal=True)
    inv = (
        invoices.filter(pl.col("status").ne_missing("paid"))
        .join(groups, on=pair, nulls_equal=True)
        .select(
            "_g",
            "_w",
            "invoice_id",
            cents_expr("open_amount").alias("_o"),
            cents_expr("amount").alias("_a"),
            cents_expr("tax_amount").alias("_t"),
        )
    )
    o, a, t = pl.col("_o"), pl.col("_a"), pl.col("_t")
    values = [pl.when(o > 0).then(o), pl.when(a > 0).then(a)]
    af = a.cast(pl.Float64)
    keys = {
        NEAR: [
            *values,
            pl.when(t != 0).then(a - t),
            *[(af / (1 + float(r))).floor().cast(pl.Int64) for r in c.tax_rates],
            *[v // f for v in values for f in factors],
        ],
        EXACT: values,
        DISCOUNT: [(af * (1 - float(r))).floor().cast(pl.Int64) for r in term_rates],
        CHARGE: [pl.when(o.is_not_null() & (o != 0)).then(o).otherwise(a)],
    }
    w = pl.col("_w")
    bucket = {NEAR: near, DISCOUNT: near, CHARGE: w}

    def long(frame: pl.DataFrame, ident: str, tag: int, exprs: list[pl.Expr]) -> pl.DataFrame:
        """One row per (row, key) of ``exprs`` that is not null; ``_gt`` is the row's
        group and the tag in one integer."""
        return pl.concat(
            [
                frame.select(ident, "_w", (pl.col("_g") + tag).alias("_gt"), e.alias("_key"))
                for e in exprs
            ]
        ).drop_nulls("_key")

    anchors = pl.concat(
        [
            long(inv, "invoice_id", tag, exprs)
            .rename({"_key": "_k"})
            .with_columns(
                (pl.col("_k") // bucket[tag] if tag in bucket else pl.col("_k")).alias("_key")
            )
            for tag, exprs in keys.items()
            if exprs
        ]
    )
    p = pl.col("_pc")
    digits = len(str(abs(ask["_pc"].abs().max() or 0)))
    probes = pl.concat(
        [
            long(ask, "_ord", tag, exprs)
            for tag, exprs in {
                NEAR: [p // near - 1, p // near, p // near + 1],
                EXACT: [
                    *[pl.when((p > 0) & (p % f == 0)).then(p // f) for f in factors],
                    *transpositions_expr(p, digits),
                ],
                DISCOUNT: [p // near - 1, p // near, p // near + 1] if term_rates else [],
                CHARGE: [p // w, p // w + 1],
            }.items()
            if exprs
        ]
    )
    probes = probes.drop("_w").join(ask.select("_ord", "_pc", "currency"), on="_ord")
    gap, tag = pl.col("_k") - pl.col("_pc"), pl.col("_gt") % 4
    return (
        probes.join(anchors.drop("_w"), on=["_gt", "_key"])
        .filter(
            tag.is_in([NEAR, DISCOUNT]).not_() | (gap.abs() <= near),
            (tag != CHARGE) | ((gap > short_min) & (gap <= short_max)),
        )
        .select("_ord", tag.cast(pl.Int32).alias("_tag"), "invoice_id")
        .unique()
    )
