"""What the checks look up, built once per close with polars, and the readings they share
(a tax difference, a customer's discount terms, a bank charge)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

import polars as pl

from arlib.exceptions.candidates import candidate_hits, truthy
from arlib.exceptions.config import RATE_DECIMALS, TOLERANCE_KINDS
from arlib.kpis import HISTORY_SCHEMA
from arlib.money import cents_expr, fmt_money_expr, money_expr, to_cents
from arlib.schema import MONEY
from arlib.terms import parse_terms


def as_text(expr: pl.Expr) -> pl.Expr:
    """A value as an f-string writes it: ``None`` where missing."""
    return expr.cast(pl.String).fill_null("None")


def python_repr(column: str, frame: pl.DataFrame) -> pl.Expr:
    """``repr()`` of each value of a text column (``'ACME'``, ``"O'Neil"``, ``None``), as
    the evidence has always quoted names and memos; computed once per distinct value."""
    values = frame.get_column(column).unique().to_list()
    return pl.col(column).replace_strict(
        {v: repr(v) for v in values if v is not None}, default="None", return_dtype=pl.String
    )


def pct_text(rate: Decimal) -> str:
    """0.13 -> '13', 0.015 -> '1.5'."""
    return f"{(rate * 100).normalize():f}"


def net_of_tax(paid: Decimal, invoice: Decimal, rates, tolerance: Decimal) -> Decimal | None:
    """The VAT rate when ``paid`` ≈ ``invoice`` / (1 + rate) within ``tolerance``."""
    for rate in rates:
        if abs(paid - invoice / (1 + rate)) <= tolerance:
            return rate
    return None


def net_of_tax_expr(paid_c: pl.Expr, invoice_c: pl.Expr, rates, tolerance: Decimal) -> pl.Expr:
    """The polars form of :func:`net_of_tax` on integer cents: the position in ``rates`` of
    the first rate that fits (``Int64``), else null. Exact rationals in Int128: with
    ``1 + rate = D / N`` and ``tolerance × 100 = T / S``, ``|paid × D − invoice × N| × S ≤
    T × D``. The Decimal form rounds the quotient to 28 digits first, which can only move a
    difference across the tolerance when it is within 10⁻²⁰ of it: never for two cent
    amounts and a rate of a few decimals (a property test holds the forms together)."""
    p, i = paid_c.cast(pl.Int128), invoice_c.cast(pl.Int128)
    t_num, t_den = _ratio(tolerance * 100)
    out = pl.lit(None, pl.Int64)
    for k in reversed(range(len(rates))):
        d, n = _ratio(1 + rates[k])
        fits = (p * d - i * n).abs() * t_den <= t_num * d
        out = pl.when(fits).then(pl.lit(k, pl.Int64)).otherwise(out)
    return out


def net_of_tax_cents_expr(invoice_c: pl.Expr, rate: Decimal) -> pl.Expr:
    """``invoice / (1 + rate)`` in cents rounded half-up (away from zero), as
    :func:`~arlib.money.fmt_money` shows that quotient (``Int128``)."""
    i = invoice_c.cast(pl.Int128)
    d, n = _ratio(1 + rate)
    whole = (2 * i.abs() * n + d) // (2 * d)
    return pl.when(i < 0).then(whole * -1).otherwise(whole)


def _ratio(value: Decimal) -> tuple[int, int]:
    """A finite Decimal as (numerator, power-of-ten denominator)."""
    exponent = -min(0, value.as_tuple().exponent)
    return int(value.scaleb(exponent)), 10**exponent


def customer_discounts(text: str | None) -> list[tuple[Decimal, int]]:
    """The early-payment discounts of a customer's ``discount_terms`` as (rate, days from
    invoice date), by days: ``'2/10 net 30'`` -> ``[(0.02, 10)]``, read by
    :func:`arlib.terms.parse_terms` (text that is not terms is an error, which the
    customers check reports before matching)."""
    return list(parse_terms(text).rates)


# What an exception is about, by the family that raises it: a receipt residual is about its
# receipt, an invoice residual about its invoice (the receipts paying it change from period to
# period), a tolerance or flagged allocation about the pair, a late payer about the customer.

# Columns the classifier reads; any an input lacks is added as nulls (as ``dict.get`` did).
_INVOICE_COLUMNS = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "invoice_date": pl.Date,
    "due_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "tax_amount": MONEY,
    "disputed": pl.Boolean,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "applied": MONEY,
    "open_amount": MONEY,
    "status": pl.String,
}
_RECEIPT_COLUMNS = {
    "receipt_id": pl.String,
    "value_date": pl.Date,
    "amount": MONEY,
    "currency": pl.String,
    "payer_name": pl.String,
    "payer_account": pl.String,
    "memo": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "customer_id": pl.String,
    "allocated": MONEY,
    "unapplied": MONEY,
    "status": pl.String,
}
_ALLOCATION_COLUMNS = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "applied_amount": MONEY,
    "currency": pl.String,
    "kind": pl.String,
    "reason": pl.String,
    "flags": pl.String,
}
_SUGGESTION_COLUMNS = {
    "receipt_id": pl.String,
    "rank": pl.Int64,
    "customer_id": pl.String,
    "invoice_ids": pl.String,
    "score": pl.Float64,
    "reason": pl.String,
}
_CUSTOMER_COLUMNS = {"customer_id": pl.String, "discount_terms": pl.String}


def _complete(
    df: pl.DataFrame | None, columns: Mapping[str, pl.DataType], **defaults
) -> pl.DataFrame:
    df = pl.DataFrame(schema=dict(columns)) if df is None else df
    missing = [
        pl.lit(defaults.get(name), dtype).alias(name)
        for name, dtype in columns.items()
        if name not in df.columns
    ]
    return df.with_columns(missing) if missing else df


def _last_of_each(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """One row per ``key``, the last (as a dict built row by row would keep); ids are
    unique in a validated close, so the frame usually comes back as it is."""
    if frame.get_column(key).n_unique() == frame.height:
        return frame
    return frame.unique(key, keep="last", maintain_order=True)


# discount rates as integers: rate × RATE_SCALE (terms are read to at most four decimals,
# the params' rates to RATE_DECIMALS)
RATE_SCALE = 10**RATE_DECIMALS


def scaled_rate(rate: Decimal) -> int:
    scaled = rate * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"discount rate {rate} has more decimals than arlib compares exactly")
    return int(scaled)


TERM_SCHEMA = {
    "customer_id": pl.String,
    "_t": pl.Int64,
    "_rate": pl.Int64,
    "_days": pl.Int64,
    "_rp": pl.String,
}


def _term_table(customers: pl.DataFrame) -> pl.DataFrame:
    """Each customer's discounts (:func:`customer_discounts`) as rows in their order ``_t``:
    the rate as an integer (``_rate`` = rate × :data:`RATE_SCALE`), its days and its
    percentage as the evidence writes it (``_rp``); each distinct text is read once."""
    texts = customers.get_column("discount_terms").unique().to_list()
    parsed = pl.DataFrame(
        [
            (text, t, scaled_rate(rate), days, pct_text(rate))
            for text in texts
            for t, (rate, days) in enumerate(customer_discounts(text))
        ],
        schema={
            "discount_terms": pl.String,
            **{k: v for k, v in TERM_SCHEMA.items() if k != "customer_id"},
        },
        orient="row",
    )
    return (
        customers.join(parsed, on="discount_terms", nulls_equal=True)
        .select(list(TERM_SCHEMA))
        .sort("customer_id", "_t", nulls_last=True)
    )


def discount_rates(ctx, customers: pl.Series) -> pl.DataFrame:
    """(``customer_id``, ``_rate``) for each of ``customers``: every discount rate its
    payments are read against, those of its terms and the configured ones (as
    :data:`RATE_SCALE` integers)."""
    who = customers.unique().to_frame("customer_id")
    own = ctx.term_table.join(who, on="customer_id", how="semi", nulls_equal=True)
    configured = pl.DataFrame(
        {"_rate": [scaled_rate(r) for r in ctx.c.discount_rates]}, schema={"_rate": pl.Int64}
    )
    return pl.concat(
        [own.select("customer_id", "_rate"), who.join(configured, how="cross")]
    ).unique()


def charge_readings(rows: pl.DataFrame, ctx, short: pl.Expr, prefix: str) -> pl.DataFrame:
    """Whether a shortfall (cents, ``short``) on each row's invoice (``_i``, ``customer_id``,
    ``currency``, ``invoice_id``) that has another explanation (a digit swap, a round
    installment) reads better as a bank charge, as ``{prefix}_ok`` (null: it cannot be one:
    not short, within rounding, over the currency's tolerance, or not whole currency units
    as bank fees are; else whether a charge is preferred) and ``{prefix}_text``. A charge is
    preferred only when the customer's bank is seen deducting charges: bank charges written
    off on the customer's other payments in this close (same currency). Between two
    readings of the same small amount that is the one an AR clerk can act on without
    troubling the customer; the evidence names the other."""
    c = ctx.c
    limit = c.bank_charge_cents(pl.col("currency"))
    shown = c.bank_charge_text(pl.col("currency"))
    s = pl.col("_short")
    rounding = to_cents(c.rounding_tolerance, ROUND_FLOOR)
    frame = rows.with_columns(short.alias("_short"), shown.alias("_tol_text"))
    possible = frame.filter((s > rounding) & (s <= limit) & (s % 100 == 0))
    charges = ctx.charge_frame.with_row_index("_pos").select(
        "customer_id",
        "currency",
        "_pos",
        pl.col("invoice_id").alias("_charge_invoice"),
        pl.col("applied_amount").alias("_charge"),
    )
    seen = (
        possible.select("_i", "customer_id", "currency", "invoice_id")
        .join(charges, on=["customer_id", "currency"], how="inner", nulls_equal=True)
        .filter(pl.col("_charge_invoice").ne_missing(pl.col("invoice_id")))
        .sort("_i", "_pos")
        .group_by("_i", maintain_order=True)
        .agg(
            pl.len().alias("_n"),
            fmt_money_expr("_charge").head(5).str.join(", ").alias("_amounts"),
        )
    )
    customer = as_text(pl.col("customer_id"))
    reading = possible.join(seen, on="_i", how="left").select(
        "_i",
        pl.col("_n").is_not_null().alias(f"{prefix}_ok"),
        pl.when(pl.col("_n").is_not_null())
        .then(
            pl.format(
                "{} ≤ bank-charge tolerance {}, and {}'s bank deducted charges on {} other "
                "payment(s) this close ({} {})",
                fmt_cents_text(s),
                pl.col("_tol_text"),
                customer,
                pl.col("_n"),
                pl.col("_amounts"),
                as_text(pl.col("currency")),
            )
        )
        .otherwise(
            pl.format(
                "the shortfall {} is also within the bank-charge tolerance {}, but no bank "
                "charges of {} were seen this close",
                fmt_cents_text(s),
                pl.col("_tol_text"),
                customer,
            )
        )
        .alias(f"{prefix}_text"),
    )
    return rows.join(reading, on="_i", how="left", maintain_order="left")


def fmt_cents_text(cents: pl.Expr) -> pl.Expr:
    """Integer cents as :func:`~arlib.money.fmt_money` writes the amount (``12,345.60``)."""
    return fmt_money_expr(money_expr(cents))


def swap_text(paid: pl.Expr, label: pl.Expr, amount: pl.Expr, difference_c: pl.Expr) -> pl.Expr:
    """The evidence of two adjacent digits swapped, as both families word it."""
    return pl.format(
        "{} vs {} {}: two adjacent digits swapped (difference {}, divisible by 9)",
        paid,
        label,
        amount,
        fmt_cents_text(difference_c),
    )


def net_of_tax_text(
    net: pl.Expr, paid: pl.Expr, label: pl.Expr, amount: pl.Expr, invoice_c: pl.Expr, rates
) -> pl.Expr:
    """The evidence of cash paid net of VAT at ``rates[net]`` (``net`` as
    :func:`net_of_tax_expr` gives it), null where no rate holds."""
    text = pl.lit(None, pl.String)
    for k in reversed(range(len(rates))):
        text = (
            pl.when(net == k)
            .then(
                pl.format(
                    "{} ≈ {} {} / (1 + {}%) = {}: paid net of VAT",
                    paid,
                    label,
                    amount,
                    pl.lit(pct_text(rates[k])),
                    fmt_cents_text(net_of_tax_cents_expr(invoice_c, rates[k]).cast(pl.Int64)),
                )
            )
            .otherwise(text)
        )
    return text


class Context:
    """Lookups over the match result, built once with polars for the rows that need them
    and shared by the families of checks (frames, no per-row Python)."""

    def __init__(
        self,
        allocations,
        suggestions,
        receipts,
        invoices,
        customers,
        config,
        history,
        disputes,
        current_history,
        credit_notes=None,
    ):
        c = self.c = config
        self.credit_notes = credit_notes
        self.current_history = current_history
        self.disputes = disputes
        self.history = history
        keys = list(dict.fromkeys(c.duplicate_line_keys))

        # only the columns the checks read (rows become dicts only where needed, and narrow)
        inv = _last_of_each(
            _complete(invoices, _INVOICE_COLUMNS).select(list(_INVOICE_COLUMNS)), "invoice_id"
        )
        rec = _complete(receipts, _RECEIPT_COLUMNS)
        rec = rec.with_columns(pl.lit(None, pl.String).alias(k) for k in keys if k not in rec)
        rec = rec.select(list(dict.fromkeys([*_RECEIPT_COLUMNS, *keys])))
        alloc = _complete(allocations, _ALLOCATION_COLUMNS, kind="cash").select(
            list(_ALLOCATION_COLUMNS)
        )
        cash = alloc.filter(pl.col("kind") == "cash")
        sug = (_complete(suggestions, _SUGGESTION_COLUMNS).select(list(_SUGGESTION_COLUMNS))).sort(
            pl.col("receipt_id"),
            pl.col("rank").fill_null(0),
            "customer_id",
            "invoice_ids",
            "score",
            "reason",
            nulls_last=True,
            maintain_order=True,
        )
        cust = _last_of_each(
            _complete(customers, _CUSTOMER_COLUMNS).select(list(_CUSTOMER_COLUMNS)), "customer_id"
        )
        self.term_table = _term_table(cust)
        term_rates = sorted(
            {r for text in cust["discount_terms"].unique() for r, _ in customer_discounts(text)}
            | set(c.discount_rates)
        )

        # receipts: customer (own, else the best suggestion's), cents, processing order
        first_sug = sug.group_by("receipt_id", maintain_order=True).agg(
            pl.col("customer_id").first().alias("_sug_customer")
        )
        receipt_by_id = _last_of_each(
            rec.select(
                "receipt_id", "value_date", "payer_name", "memo", "source_file", "source_row"
            ),
            "receipt_id",
        )
        u = pl.col("unapplied")
        rec = (
            rec.join(first_sug, on="receipt_id", how="left", maintain_order="left")
            .with_columns(
                pl.when(truthy("customer_id"))
                .then(pl.col("customer_id"))
                .otherwise(pl.col("_sug_customer"))
                .alias("_customer"),
                cents_expr("amount").alias("_pc"),
                (u.is_not_null() & (u != 0) & pl.col("status").ne_missing("not_ar")).alias(
                    "_residual"
                ),
                (pl.len().over(keys) if keys else pl.len()).alias("_group_n"),
            )
            .sort(
                pl.col("source_file").fill_null(""),
                pl.col("source_row").fill_null(0),
                "receipt_id",
                maintain_order=True,
            )
            .with_row_index("_ord")
        )
        res = rec.filter("_residual")
        # the residual receipts and the lines sharing a duplicate-line key, statement order
        self.receipt_rows = rec.filter(pl.col("_residual") | (pl.col("_group_n") > 1)).drop(
            "_pc", "_sug_customer"
        )
        res_ids = res.select("receipt_id")
        res_sug = sug.join(res_ids, on="receipt_id", how="semi", maintain_order="left")
        self.residual_suggestions = res_sug
        self.receipt_cash = cash.join(res_ids, on="receipt_id", how="semi")

        # a receipt of the same amount from the same customer, applied whole to a paid invoice
        ask = res.filter(truthy("_customer")).select("_ord", "receipt_id", "_customer", "_pc")
        # only receipts of a customer and amount some residual receipt has can be its twin
        alike = rec.join(
            ask.select("_customer", "_pc").unique(), on=["_customer", "_pc"], how="semi"
        )
        others = (
            cash.join(
                alike.select(
                    "receipt_id",
                    pl.col("_ord").alias("_other_ord"),
                    "_customer",
                    "_pc",
                    pl.col("amount").alias("_other_amount"),
                    pl.col("value_date").alias("_other_date"),
                ),
                on="receipt_id",
            )
            .join(inv.filter(pl.col("status") == "paid"), on="invoice_id", how="semi")
            .filter(pl.col("applied_amount") == pl.col("_other_amount"))
            .select(
                "_customer",
                "_pc",
                pl.col("receipt_id").alias("_other"),
                "_other_ord",
                "_other_date",
                "invoice_id",
            )
        )
        self.dup_receipt = (
            ask.join(others, on=["_customer", "_pc"])
            .filter(pl.col("_other") != pl.col("receipt_id"))
            .sort("_ord", "_other_ord", "invoice_id")
            .unique("_ord", keep="first", maintain_order=True)
            .select("_ord", "_other", "_other_date", "invoice_id")
        )
        self.dup_history = pl.DataFrame(
            schema={
                "_ord": pl.UInt32,
                "_h_receipt": pl.String,
                "payment_date": pl.Date,
                "period": pl.String,
                "invoice_id": pl.String,
            }
        )
        asked = ask.select(pl.col("_customer").alias("customer_id")).unique()
        if history is not None:
            paid = (
                _complete(history, HISTORY_SCHEMA)
                .select(
                    "period",
                    "customer_id",
                    "invoice_id",
                    "receipt_id",
                    "payment_date",
                    "applied_amount",
                )
                .filter(
                    pl.col("customer_id").is_not_null()
                    & pl.col("receipt_id").is_not_null()
                    & pl.col("applied_amount").is_not_null()
                )
                .join(asked, on="customer_id", how="semi", maintain_order="left")
            )
            # only payments of a customer and amount some residual receipt has can be its
            # twin; of those, receipts that paid exactly one invoice
            alike = paid.with_columns(cents_expr("applied_amount").alias("_pc")).join(
                ask.select(pl.col("_customer").alias("customer_id"), "_pc").unique(),
                on=["customer_id", "_pc"],
                how="semi",
                maintain_order="left",
            )
            payer = ["customer_id", "receipt_id"]
            single = (
                paid.join(alike.select(payer).unique(), on=payer, how="semi")
                .group_by(payer)
                .len()
                .filter(pl.col("len") == 1)
            )
            h = (
                alike.join(single.select(payer), on=payer, how="semi", maintain_order="left")
                .join(
                    inv.select("invoice_id", "status", pl.lit(True).alias("_known")),
                    on="invoice_id",
                    how="left",
                    maintain_order="left",
                )
                .filter(pl.col("_known").is_null() | (pl.col("status") == "paid"))
                .sort(
                    "period",
                    "invoice_id",
                    "receipt_id",
                    "payment_date",
                    "applied_amount",
                    nulls_last=True,
                    maintain_order=True,
                )
                .with_row_index("_hi")
                .select(
                    pl.col("customer_id").alias("_customer"),
                    "_pc",
                    pl.col("receipt_id").alias("_h_receipt"),
                    "_hi",
                    "invoice_id",
                    "payment_date",
                    "period",
                )
            )
            self.dup_history = (
                ask.join(h, on=["_customer", "_pc"])
                .filter(pl.col("_h_receipt") != pl.col("receipt_id"))
                .sort("_ord", "_hi")
                .unique("_ord", keep="first", maintain_order=True)
                .select(list(self.dup_history.columns))
                .cast(self.dup_history.schema)
            )

        # open invoices each residual receipt may relate to, and what its customer owes
        self.hits = candidate_hits(res, inv, c, term_rates)
        self.owed = (
            inv.filter(pl.col("status").ne_missing("paid"))
            .join(
                ask.select(pl.col("_customer").alias("customer_id")), on="customer_id", how="semi"
            )
            .group_by("customer_id", "currency")
            .agg(pl.col("open_amount").sum().alias("_owed"))
        )

        # invoice residuals, and the allocations the checks look at
        applied = pl.col("applied").fill_null(0)
        residual_inv = inv.filter(
            pl.col("open_amount").is_not_null()
            & (pl.col("open_amount") > 0)
            & (
                pl.col("disputed").fill_null(False)
                | ((applied > 0) & pl.col("status").ne_missing("paid"))
            )
        ).sort("invoice_id", nulls_last=True)
        self.residual_invoices = residual_inv
        self.invoice_cash = cash.join(
            residual_inv.select("invoice_id"), on="invoice_id", how="semi"
        ).select("invoice_id", "receipt_id", "applied_amount")
        flagged = pl.col("flags").str.contains("third_party|memo_conflict")
        tol = alloc.filter(pl.col("kind").is_in(TOLERANCE_KINDS) | flagged).sort(
            "receipt_id",
            "invoice_id",
            "kind",
            "applied_amount",
            "currency",
            "customer_id",
            "flags",
            "reason",
            nulls_last=True,
            maintain_order=True,
        )
        self.tolerance = tol
        # the customer's bank charges written off in this close, as (invoice, amount):
        # evidence that its bank deducts fees (see :func:`charge_readings`)
        self.charge_frame = tol.filter(
            (pl.col("kind") == "bank_charge") & truthy("customer_id")
        ).select("customer_id", "currency", "invoice_id", "applied_amount")
        # cash applied on each flagged or written-off pair (what was open before the write-off)
        self.pair_cash = (
            cash.join(
                tol.filter(flagged | (pl.col("kind") == "write_off"))
                .select("receipt_id", "invoice_id")
                .unique(),
                on=["receipt_id", "invoice_id"],
                how="semi",
                nulls_equal=True,
            )
            .group_by("receipt_id", "invoice_id")
            .agg(pl.col("applied_amount").sum().alias("_pair_cash"))
        )
        self.invoice_frame = inv
        self.receipt_frame = receipt_by_id
