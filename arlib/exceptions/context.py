"""What the checks look up, built once per close with polars, and the readings they share
(a keying error, a tax difference, a discount within terms, a bank charge)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from arlib.exceptions.candidates import CHARGE, DISCOUNT, candidate_hits, truthy
from arlib.exceptions.config import TOLERANCE_KINDS
from arlib.exceptions.register import ROW_SCHEMA
from arlib.keying import describe_keying_error
from arlib.kpis import HISTORY_SCHEMA
from arlib.money import cents_expr, fmt_money, to_cents
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


def _groups(rows: list[dict], key: str) -> dict[object, list[dict]]:
    out: dict[object, list[dict]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


class Context:
    """Lookups over the match result, built with polars for the rows that need them; one
    method per residual family. Python only loops over the residual receipts that reach their
    candidate invoices, with dict lookups."""

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
    ):
        c = self.c = config
        self.current_history = current_history
        self.out: list[dict] = []
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
        cust = _complete(customers, _CUSTOMER_COLUMNS)
        self.terms = dict(zip(cust["customer_id"], cust["discount_terms"], strict=True))
        self._terms: dict[str | None, list[tuple[Decimal, int]]] = {}
        term_rates = sorted(
            {r for text in set(self.terms.values()) for r, _ in customer_discounts(text)}
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
        self.suggestions = _groups(res_sug.to_dicts(), "receipt_id")
        self.receipt_cash = cash.join(res_ids, on="receipt_id", how="semi")
        self.cash_by_receipt = _groups(self.receipt_cash.to_dicts(), "receipt_id")

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
        hits = candidate_hits(res, inv, c, term_rates)
        self.hits: dict[tuple[int, bool], set[str]] = defaultdict(set)
        for o, tag, iid in hits.iter_rows():
            self.hits[(o, tag in (DISCOUNT, CHARGE))].add(iid)
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
        # evidence that its bank deducts fees (see ``charge_reading``)
        self.charge_frame = tol.filter(
            (pl.col("kind") == "bank_charge") & truthy("customer_id")
        ).select("customer_id", "currency", "invoice_id", "applied_amount")
        self.charges: dict[tuple, list[tuple]] = {
            (customer, currency): list(zip(ids, amounts, strict=True))
            for customer, currency, ids, amounts in self.charge_frame.group_by(
                "customer_id", "currency", maintain_order=True
            )
            .agg("invoice_id", "applied_amount")
            .iter_rows()
        }
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

        sug_ids = (
            res_sug.select(pl.col("invoice_ids").str.split("|").alias("invoice_id"))
            .explode("invoice_id")
            .filter(truthy("invoice_id"))
        )
        need = pl.concat(
            [
                hits.select("invoice_id"),
                cash.join(res_ids, on="receipt_id", how="semi").select("invoice_id"),
                sug_ids,
            ]
        ).unique()
        self.invoices = {
            r["invoice_id"]: r
            for r in inv.join(need, on="invoice_id", how="semi", nulls_equal=True).to_dicts()
        }

    # -- output
    def add(
        self,
        kind,
        *,
        customer,
        receipt,
        invoice,
        amount,
        currency,
        evidence,
        src,
        about,
        status="open",
    ):
        """One exception; ``about`` is what it is about (see :func:`exception_key`)."""
        self.out.append(
            {
                "type": kind,
                "customer_id": customer,
                "receipt_id": receipt,
                "invoice_id": invoice,
                "amount": amount,
                "currency": currency,
                "evidence": evidence,
                "status": status,
                "source_file": (src or {}).get("source_file"),
                "source_row": (src or {}).get("source_row"),
                "about": about,
            }
        )

    def take_rows(self) -> pl.DataFrame:
        """The rows :meth:`add` collected, as a frame (:data:`ROW_SCHEMA`); starts afresh."""
        rows, self.out = self.out, []
        return pl.DataFrame(rows, schema=ROW_SCHEMA) if rows else pl.DataFrame(schema=ROW_SCHEMA)

    # -- helpers
    def candidates(self, r: dict, customer: str | None, *, discount: bool) -> list[dict]:
        """Invoices a residual receipt may relate to, in review order: the customer's unpaid
        invoices (by due date), the ones this receipt was applied to, and the ones suggested
        for it. Of the customer's unpaid invoices only those the candidate search found for
        this check (``discount``: the discount / bank-charge checks, else ``pattern``) are
        listed: the others cannot pass it."""
        ids = {a["invoice_id"] for a in self.cash_by_receipt.get(r["receipt_id"], [])}
        for s in self.suggestions.get(r["receipt_id"], []):
            ids.update(i for i in (s.get("invoice_ids") or "").split("|") if i)
        own, other = [], []
        for iid in self.hits.get((r["_ord"], discount), set()) | ids:
            inv = self.invoices.get(iid)
            if inv is None:
                continue
            if (
                customer
                and inv.get("customer_id") == customer
                and (inv.get("status") != "paid" or iid in ids)
            ):
                own.append(inv)
            elif iid in ids:
                other.append(inv)
        own.sort(key=lambda i: (i.get("due_date") or dt.date.max, i["invoice_id"]))
        other.sort(key=lambda i: i["invoice_id"])
        return [inv for inv in own + other if inv.get("currency") == r.get("currency")]

    def discount_terms(self, customer: str | None) -> list[tuple[Decimal, int]]:
        if customer not in self._terms:
            self._terms[customer] = customer_discounts(self.terms.get(customer))
        return self._terms[customer]

    def discount_verdict(
        self, inv: dict, discount: Decimal, paid_on: dt.date | None
    ) -> tuple[str, str]:
        """(type, evidence) for a discount taken on ``inv``: ``discount`` when the rate is
        in the customer's terms and paid inside the window, else ``discount_outside_terms``."""
        amount = inv["amount"]
        terms = self.discount_terms(inv.get("customer_id"))
        pct = f"{discount / amount * 100:.2f}%" if amount else "n/a"
        base = f"discount {fmt_money(discount)} = {pct} of invoice {fmt_money(amount)}"
        if not terms:
            return "discount_outside_terms", f"{base}; customer has no discount terms"
        tol = self.c.rounding_tolerance
        matching = [(r, d) for r, d in terms if abs(discount - amount * r) <= tol]
        if not matching:
            allowed = ", ".join(f"{pct_text(r)}%" for r, _ in terms)
            return "discount_outside_terms", f"{base}; terms allow {allowed}"
        inv_date = inv.get("invoice_date")
        for rate, days in matching:
            if paid_on is None or inv_date is None:
                return (
                    "discount",
                    f"{base}; in terms {pct_text(rate)}/{days} (payment date unknown)",
                )
            end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
            if paid_on <= end:
                return (
                    "discount",
                    f"{base}; paid {paid_on} within {pct_text(rate)}/{days} (by {end})",
                )
        rate, days = matching[0]
        end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
        late = (paid_on - end).days
        return (
            "discount_outside_terms",
            f"{base}; paid {paid_on}, {late} day(s) after the {pct_text(rate)}/{days} window "
            f"ended {end}",
        )

    def charge_reading(self, short: Decimal, inv: dict) -> tuple[bool, str] | None:
        """Whether a shortfall on ``inv`` that has another explanation (a digit swap, a round
        installment) reads better as a bank charge: None when it cannot be one (not short,
        within rounding, over the currency's tolerance, or not whole currency units as bank
        fees are), else (preferred, evidence). A charge is preferred only when the customer's
        bank is seen deducting charges: bank charges written off on the customer's other
        payments in this close (same currency). Between two readings of the same small amount
        that is the one an AR clerk can act on without troubling the customer; the evidence
        names the other."""
        c = self.c
        cur = inv.get("currency")
        tol = c.bank_charge_tolerance_by_currency.get(cur, c.bank_charge_tolerance)
        if not (c.rounding_tolerance < short <= tol) or short != short.to_integral_value():
            return None
        seen = [
            amount
            for invoice_id, amount in self.charges.get((inv.get("customer_id"), cur), [])
            if invoice_id != inv["invoice_id"]
        ]
        if not seen:
            return False, (
                f"the shortfall {fmt_money(short)} is also within the bank-charge tolerance "
                f"{fmt_money(tol)}, but no bank charges of {inv.get('customer_id')} were "
                "seen this close"
            )
        amounts = ", ".join(fmt_money(amount) for amount in seen[:5])
        return True, (
            f"{fmt_money(short)} ≤ bank-charge tolerance {fmt_money(tol)}, and "
            f"{inv.get('customer_id')}'s bank deducted charges on {len(seen)} other "
            f"payment(s) this close ({amounts} {cur})"
        )

    def pattern(self, paid: Decimal, inv: dict, *, allow_rounding: bool) -> tuple[str, str] | None:
        """Technical / tax patterns between a payment and an invoice, most specific first."""
        c = self.c
        label = f"invoice {inv['invoice_id']}"
        values = []
        for v in (inv.get("open_amount"), inv["amount"]):
            if v is not None and v > 0 and v not in values:
                values.append(v)
        for v in values:
            if allow_rounding and paid != v and abs(paid - v) <= c.rounding_tolerance:
                return "rounding", (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: "
                    f"difference {fmt_money(paid - v)} ≤ {fmt_money(c.rounding_tolerance)}"
                )
        # keying errors (arlib.keying; a dropped or doubled digit is not an exception type):
        # a decimal shift of any of the values first, then a digit swap
        keyed = [
            (v, describe_keying_error(to_cents(paid), to_cents(v), factors=c.shift_factors))
            for v in values
        ]
        for v, k in keyed:
            if k is not None and k.kind == "decimal_shift":
                return "decimal_shift", f"{fmt_money(paid)} = {label} {fmt_money(v)} {k.detail}"
        for v, k in keyed:
            if k is not None and k.kind == "transposition":
                swap = (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: two adjacent digits "
                    f"swapped (difference {fmt_money(paid - v)}, divisible by 9)"
                )
                charge = self.charge_reading(v - paid, inv)
                if charge is None:
                    return "transposition", swap
                if charge[0]:
                    return "bank_charge", (
                        f"{fmt_money(paid)} = {label} {fmt_money(v)} − {fmt_money(v - paid)}: "
                        f"{charge[1]}; likely deducted by the bank. Also a digit swap "
                        f"({swap}): if the remittance advice shows {fmt_money(paid)}, it is a "
                        "keying error (transposition)"
                    )
                return "transposition", f"{swap}; {charge[1]}"
        amount = inv["amount"]
        tax = inv.get("tax_amount")
        if tax and abs(paid - (amount - tax)) <= c.tax_tolerance:
            return "tax_difference", (
                f"{fmt_money(paid)} = {label} {fmt_money(amount)} − VAT {fmt_money(tax)}"
            )
        rate = net_of_tax(paid, amount, c.tax_rates, c.tax_tolerance)
        if rate is not None:
            return "tax_difference", (
                f"{fmt_money(paid)} ≈ {label} {fmt_money(amount)} / (1 + {pct_text(rate)}%) "
                f"= {fmt_money(amount / (1 + rate))}: paid net of VAT"
            )
        return None

    # -- receipts
