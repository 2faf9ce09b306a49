"""Collection KPIs of a close, each shown with its formula and the numbers that went in.

Why the formula travels with the value: a KPI in a workpaper is only evidence if a reviewer
can recompute it. Every summary row therefore carries ``formula`` (the definition) and
``computation`` (the same formula with this period's numbers). Amounts are base currency,
converted at the as-of rate like the aging, and computed with Decimal; KPI values are
rounded half-up to two decimals only at the end.

The payment history (:func:`payment_history`) is the small frame that lets KPIs, tiers and
exceptions look across periods: one row per cash allocation with its due and payment
dates. A close appends its own rows to the history it was given and carries it forward.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

import polars as pl
from pydantic import Field

from arlib.aging import to_base
from arlib.money import cents_expr, fmt_money, money_expr, round_money
from arlib.paramtypes import Exact, Flag, Range, Section, Whole
from arlib.schema import MONEY

HISTORY_SCHEMA = {
    "period": pl.String,
    "customer_id": pl.String,
    "invoice_id": pl.String,
    "receipt_id": pl.String,
    "due_date": pl.Date,
    "payment_date": pl.Date,
    "applied_amount": MONEY,
    "currency": pl.String,
    "days_late": pl.Int64,
}

ZERO = Decimal("0.00")


class KpiConfig(Section):
    """``kpis:`` section of the params."""

    days_in_period: Annotated[Whole, Range(ge=1, le=36_600)] | None = Field(
        None, description="days used by DSO; null = the days from period start to end"
    )
    clamp_early_payments: Flag = Field(
        False,
        description="count payments before the due date as 0 days late (false: early "
        "payments lower the average)",
    )
    trend_min_periods: Annotated[Whole, Range(ge=2)] = Field(
        3, description="periods needed before a days-late trend is called"
    )
    trend_threshold_days: Annotated[Exact, Range(ge=0)] = Field(
        Decimal("2"),
        description="slope (days per period) beyond which a trend is worsening / improving "
        "rather than stable",
    )


@dataclass(frozen=True)
class KpiResult:
    """``summary`` (kpi, value, unit, formula, computation), ``days_late`` per customer,
    ``weekly`` collection rates, ``trend`` of days late per customer across periods, and
    ``history`` (the input history plus this period's payments, to carry forward)."""

    summary: pl.DataFrame
    days_late: pl.DataFrame
    weekly: pl.DataFrame
    trend: pl.DataFrame
    history: pl.DataFrame


TREND_KPIS = ("dso", "cei")
TREND_SCHEMA = {"period": pl.String, "dso": MONEY, "cei": MONEY}


def kpi_trend(period: str, summary: pl.DataFrame, earlier: list[dict]) -> pl.DataFrame:
    """DSO and CEI per close, oldest first: those recorded under ``kpis`` in the manifests
    of earlier closes (:func:`arlib.close.earlier_closes`) and this close's ``summary``, so
    that a trend is read from what each close published, not recomputed from data that may
    have changed since."""
    current = dict(summary.select("kpi", "value").iter_rows())
    rows = [{"period": period, **{k: current.get(k) for k in TREND_KPIS}}]
    for manifest in earlier:
        kpis = manifest.get("kpis") or {}
        rows.append(
            {
                "period": str(manifest["period"]),
                **{k: None if kpis.get(k) is None else Decimal(kpis[k]) for k in TREND_KPIS},
            }
        )
    return pl.DataFrame(rows, schema=TREND_SCHEMA).sort("period")


# --------------------------------------------------------------------------- history
def payment_history(
    allocations: pl.DataFrame,
    receipts: pl.DataFrame,
    invoices: pl.DataFrame,
    period: str | None = None,
) -> pl.DataFrame:
    """One row per cash allocation: who paid which invoice, when, and how many days late.

    ``days_late`` = payment (receipt value) date − invoice due date; negative when early.
    ``period`` defaults to the payment date's month (``YYYY-MM``).
    """
    # only the columns the history keeps: the filter, joins and sort move every column they carry
    used = ("receipt_id", "invoice_id", "customer_id", "applied_amount", "currency", "kind")
    optional = ("customer_id", "kind")
    cash = allocations.select(name for name in used if name in allocations or name not in optional)
    cash = cash.filter(pl.col("kind") == "cash").drop("kind") if "kind" in cash else cash
    rec = receipts.select("receipt_id", pl.col("value_date").alias("payment_date"))
    inv = invoices.select("invoice_id", "due_date", pl.col("customer_id").alias("_inv_cust"))
    rec, inv = _with_rank(rec, "receipt_id"), _with_rank(inv, "invoice_id")
    df = cash.join(rec, on="receipt_id", how="left").join(inv, on="invoice_id", how="left")
    cust = pl.col("customer_id") if "customer_id" in df.columns else pl.lit(None, pl.String)
    out = df.select(
        (
            pl.lit(period, dtype=pl.String)
            if period
            else pl.col("payment_date").dt.strftime("%Y-%m")
        ).alias("period"),
        pl.coalesce(cust, pl.col("_inv_cust")).alias("customer_id"),
        "invoice_id",
        "receipt_id",
        "due_date",
        "payment_date",
        pl.col("applied_amount").cast(MONEY),
        "currency",
        (pl.col("payment_date") - pl.col("due_date")).dt.total_days().alias("days_late"),
        *_RANKS.values(),
    )
    # a given period is one value on every row: sorting by it too only takes longer
    keys = ["customer_id", "invoice_id", "receipt_id"]
    return _sort_by_ranks(out.cast(HISTORY_SCHEMA), keys if period else ["period", *keys])


# the rank columns the lookups bring along (see _with_rank), by the key they rank
_RANKS = {"receipt_id": "_receipt_id_rank", "invoice_id": "_invoice_id_rank"}


def _with_rank(lookup: pl.DataFrame, key: str) -> pl.DataFrame:
    """``lookup`` with the dense rank of ``key``, read off its row order in one pass when it
    is already sorted by it (receipts and invoices are): the history is then sorted by
    integers, not by a million strings."""
    ids = pl.col(key)
    rank = ids.rle_id() if lookup[key].is_sorted() else ids.rank("dense")
    return lookup.with_columns(rank.cast(pl.Int64).alias(_RANKS[key]))


def _dense_rank(frame: pl.DataFrame, key: str) -> pl.Expr:
    """The dense rank of ``key`` in ``frame`` (null stays null, so it sorts first, as the
    string does): a rank a lookup brought when it found every id, else the few distinct
    values (customers, periods) sorted and mapped back."""
    rank = _RANKS.get(key)
    if rank in frame.columns and frame[rank].null_count() == frame[key].null_count():
        return pl.col(rank)
    values = frame.get_column(key).drop_nulls().unique().sort()
    return pl.col(key).replace_strict(values, pl.int_range(values.len(), eager=True), default=None)


def _sort_by_ranks(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``frame.sort(keys)`` over string keys, sorted by their integer ranks instead."""
    ranks = [_dense_rank(frame, key).alias(f"_sort_{key}") for key in keys]
    by = [f"_sort_{key}" for key in keys]
    dropped = [*by, *(name for name in _RANKS.values() if name in frame.columns)]
    return frame.with_columns(ranks).sort(by).drop(dropped)


def _merge_history(history: pl.DataFrame | None, current: pl.DataFrame) -> pl.DataFrame:
    if history is None or history.height == 0:
        return current
    keys = ["period", "receipt_id", "invoice_id"]
    past = history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)
    # the last row of each key over both, in order, without hashing both: a key this
    # period has keeps this period's row
    past = past.join(current, on=keys, how="anti", nulls_equal=True, maintain_order="left")
    kept = [frame.unique(keys, keep="last", maintain_order=True) for frame in (past, current)]
    return pl.concat(kept, how="vertical")


# --------------------------------------------------------------------------- formulas
def _ratio(num: Decimal, den: Decimal, scale: Decimal = Decimal(1)) -> Decimal | None:
    return None if den == 0 else round_money(num / den * scale)


def dso(closing_ar: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """Days sales outstanding = closing AR / credit sales × days in period."""
    return _ratio(closing_ar * days, credit_sales)


def ar_turnover(credit_sales: Decimal, opening_ar: Decimal, closing_ar: Decimal) -> Decimal | None:
    """AR turnover = credit sales / ((opening AR + closing AR) / 2)."""
    return _ratio(credit_sales * 2, opening_ar + closing_ar)


def cei(
    opening_ar: Decimal, credit_sales: Decimal, closing_ar: Decimal, closing_current_ar: Decimal
) -> Decimal | None:
    """Collection effectiveness index, in percent."""
    return _ratio(
        opening_ar + credit_sales - closing_ar,
        opening_ar + credit_sales - closing_current_ar,
        Decimal(100),
    )


def pct_current(current_ar: Decimal, total_ar: Decimal) -> Decimal | None:
    """Share of closing AR not yet due, in percent."""
    return _ratio(current_ar, total_ar, Decimal(100))


def _days(history: pl.DataFrame, clamp: bool) -> pl.Expr:
    days = pl.col("days_late")
    return pl.when(days < 0).then(0).otherwise(days) if clamp else days


def _half_up(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den rounded half-up (away from zero) to a whole number, exactly, in Int128;
    null when den is 0."""
    q = (2 * num.abs() + den.abs()) // (2 * den.abs())
    return pl.when(den != 0).then(q * num.sign() * den.sign())


def _weighted_sums(history: pl.DataFrame, keys: list[str], clamp: bool) -> pl.DataFrame:
    """Per ``keys``: payments, Σ amount, the largest days late, and ``avg`` = Σ(days late ×
    amount) / Σ amount half-up to the cent (null without payments) -- exact integer sums
    of cents and their quotient rounded in polars (a Python loop per customer took 30 s at
    a million payments). ``negative``: the quotient's sign as Decimal division gives it
    (an average that rounds to 0 from below, or 0 over a negative sum, is ``-0.00``)."""
    paying = history.filter(pl.col("days_late").is_not_null()).with_columns(
        cents_expr("applied_amount").cast(pl.Int128).alias("_cents"),
        _days(history, clamp).alias("_days"),
    )
    sums = [
        pl.len().cast(pl.Int64).alias("payments"),
        pl.col("applied_amount").sum().cast(MONEY).alias("paid"),
        (pl.col("_days").cast(pl.Int128) * pl.col("_cents")).sum().alias("_weighted"),
        pl.col("_cents").sum().alias("_paid"),
        pl.col("_days").max().alias("max_days"),
    ]
    # a blank period sorts first, as it always did in the trend; no keys: one row in all
    per = paying.group_by(keys).agg(sums).sort(keys) if keys else paying.select(sums)
    weighted, paid = pl.col("_weighted"), pl.col("_paid")
    avg = _half_up(100 * weighted, paid).cast(pl.Int64)
    return per.with_columns(avg.alias("avg_cents")).select(
        *keys,
        "payments",
        "paid",
        money_expr("avg_cents").alias("avg"),
        "avg_cents",
        ((weighted < 0) != (paid < 0)).alias("negative"),
        "max_days",
    )


def average_days_late(history: pl.DataFrame, config: KpiConfig | None = None) -> pl.DataFrame:
    """Per customer: Σ(days late × amount paid) / Σ amount paid, over cash allocations."""
    config = config or KpiConfig()
    sums = _weighted_sums(history, ["customer_id"], config.clamp_early_payments)
    return sums.select(
        pl.col("customer_id").cast(pl.String),
        "payments",
        pl.col("paid").alias("paid_amount"),
        pl.col("avg").alias("avg_days_late"),
        pl.col("max_days").cast(pl.Int64).alias("max_days_late"),
    ).sort("customer_id", nulls_last=True)


def _slope(ys: list[Decimal]) -> Decimal:
    """The least-squares slope of ``ys`` over 0, 1, 2, ... in Decimal arithmetic, half-up
    to the cent: how a slope exactly halfway between two cents has always been rounded
    (the 28-digit division can land on either side), so that the exact one in
    :func:`days_late_trend` defers to it there."""
    n = len(ys)
    xs = [Decimal(i) for i in range(n)]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return round_money(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx)


def days_late_trend(history: pl.DataFrame, config: KpiConfig | None = None) -> pl.DataFrame:
    """Per customer: weighted days late per period and the least-squares slope across them.

    ``trend`` is ``worsening`` (slope > threshold), ``improving`` (< −threshold),
    ``stable``, or ``insufficient data`` (fewer than ``trend_min_periods`` periods).

    The slope over periods x = 0..n−1 of averages Y (in cents) is, exactly,
    6·Σ(2x − n + 1)·Y / (n(n² − 1)) cents, rounded half-up in integers for every customer
    at once; only a slope exactly halfway between two cents is left to :func:`_slope`.
    """
    config = config or KpiConfig()
    sums = _weighted_sums(history, ["customer_id", "period"], config.clamp_early_payments)
    n = pl.len().cast(pl.Int128)
    y = pl.col("avg_cents").cast(pl.Int128)
    num = 6 * ((2 * pl.int_range(pl.len()).cast(pl.Int128) - n + 1) * y).sum()
    den = n * (n * n - 1)
    value = pl.when(pl.col("negative") & (pl.col("avg_cents") == 0))
    value = value.then(pl.lit("-0.00")).otherwise(pl.col("avg").cast(pl.String))
    per = (
        sums.filter(pl.col("avg").is_not_null())
        .group_by("customer_id", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("periods"),
            pl.format("{}: {}", pl.col("period").fill_null("None"), value)
            .str.join(" | ")
            .alias("series"),
            pl.col("avg").last().alias("latest_days_late"),
            pl.col("avg"),
            _half_up(num, den).cast(pl.Int64).alias("slope"),
            ((num.abs() % den.clip(1)) * 2 == den).alias("tie"),
        )
    )
    everyone = sums.select(pl.col("customer_id").unique(maintain_order=True))
    per = everyone.join(per, on="customer_id", how="left", nulls_equal=True, maintain_order="left")
    per = per.with_columns(pl.col("periods").fill_null(0), pl.col("series").fill_null(""))
    ties = per.with_row_index("_i").filter(pl.col("tie") & (pl.col("periods") >= 2))
    slope = per["slope"]
    if ties.height:
        redone = [int(_slope(ys) * 100) for ys in ties["avg"].to_list()]
        slope = slope.scatter(ties["_i"], pl.Series(redone, dtype=pl.Int64))
    thr = config.trend_threshold_days * 100  # slope in cents > thr ⇔ > ⌊thr⌋
    floor = int(thr.to_integral_value(rounding=ROUND_FLOOR))
    cents = pl.col("slope")
    trend = (
        pl.when((pl.col("periods") < config.trend_min_periods) | cents.is_null())
        .then(pl.lit("insufficient data"))
        .when(cents > floor)
        .then(pl.lit("worsening"))
        .when(cents < -floor)
        .then(pl.lit("improving"))
        .otherwise(pl.lit("stable"))
    )
    return (
        per.with_columns(slope.alias("slope"))
        .select(
            pl.col("customer_id").cast(pl.String),
            "periods",
            "series",
            pl.col("latest_days_late").cast(MONEY),
            money_expr(pl.col("slope")).alias("slope_days_per_period"),
            trend.alias("trend"),
        )
        .sort("customer_id", nulls_last=True)
    )


def _sum(df: pl.DataFrame, col: str) -> Decimal:
    """Σ of a money column, exact: polars adds the Decimal column (0.00 when empty)."""
    total = df.get_column(col).sum()
    return ZERO if total is None else ZERO + total


def _daily(frame: pl.DataFrame, date: str) -> pl.DataFrame:
    return frame.group_by(date).agg(pl.col("amount_base").sum())


def weekly_collection(
    invoices_base: pl.DataFrame,
    clearances_base: pl.DataFrame,
    *,
    opening_ar: Decimal,
    period_start: dt.date,
    period_end: dt.date,
) -> pl.DataFrame:
    """Recovery rate per 7-day week of the period: cash collected in the week / AR open at
    the week's start × 100.

    ``invoices_base``: invoice_date, amount_base (invoices issued in the period add to AR).
    ``clearances_base``: date, kind, amount_base (every allocation reduces AR; ``cash``
    rows are what was collected).
    """
    # each week reads sums per day (exact: sums of sums), not the million rows again
    sales, cleared = _daily(invoices_base, "invoice_date"), _daily(clearances_base, "date")
    cash = _daily(clearances_base.filter(pl.col("kind") == "cash"), "date")
    rows = []
    start = period_start
    week = 1
    while start <= period_end:
        end = min(start + dt.timedelta(days=6), period_end)
        sales_before = sales.filter(
            (pl.col("invoice_date") >= period_start) & (pl.col("invoice_date") < start)
        )
        cleared_before = cleared.filter((pl.col("date") >= period_start) & (pl.col("date") < start))
        ar_start = (
            opening_ar + _sum(sales_before, "amount_base") - _sum(cleared_before, "amount_base")
        )
        collected = _sum(cash.filter(pl.col("date").is_between(start, end)), "amount_base")
        rows.append(
            {
                "week": week,
                "week_start": start,
                "week_end": end,
                "ar_at_start": ar_start,
                "collected": collected,
                "recovery_rate_pct": _ratio(collected, ar_start, Decimal(100)),
                "computation": f"{fmt_money(collected)} / {fmt_money(ar_start)} × 100",
            }
        )
        start = end + dt.timedelta(days=1)
        week += 1
    schema = {
        "week": pl.Int64,
        "week_start": pl.Date,
        "week_end": pl.Date,
        "ar_at_start": MONEY,
        "collected": MONEY,
        "recovery_rate_pct": MONEY,
        "computation": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


# --------------------------------------------------------------------------- summary
FORMULAS = {
    "dso": "closing AR / credit sales in period × days in period",
    "ar_turnover": "credit sales / ((opening AR + closing AR) / 2)",
    "cei": "(opening AR + credit sales − closing AR) / "
    "(opening AR + credit sales − closing current AR) × 100",
    "pct_current": "closing current (not yet due) AR / closing AR × 100",
    "avg_days_late": "Σ(payment date − due date) × amount paid / Σ amount paid",
    "avg_weekly_recovery": "mean over weeks of (cash collected in week / AR open at week start) "
    "× 100",
}


#: each KPI's name in words, beside its key (the key is what the manifest and trend keep)
NAMES = {
    "dso": "Days sales outstanding (DSO)",
    "ar_turnover": "AR turnover",
    "cei": "Collection effectiveness index (CEI)",
    "pct_current": "Current (not yet due) share of AR",
    "avg_days_late": "Average days late, weighted by amount paid",
    "avg_weekly_recovery": "Average weekly recovery rate",
}


def _counted(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def compute_kpis(
    invoices: pl.DataFrame,
    allocations: pl.DataFrame,
    receipts: pl.DataFrame,
    aging_detail: pl.DataFrame,
    *,
    opening_ar: Decimal,
    period_start: dt.date,
    period_end: dt.date,
    base_currency: str = "CNY",
    fx_rates: pl.DataFrame | None = None,
    config: KpiConfig | None = None,
    history: pl.DataFrame | None = None,
    current_history: pl.DataFrame | None = None,
) -> KpiResult:
    """All KPIs of the period from the matcher's frames and the aging detail.

    ``opening_ar`` is the base-currency AR at the period start (the previous close's
    open items). Credit sales are invoices dated in the period; closing AR is the aging
    detail's outstanding (credit balances excluded), current AR its not-yet-due part.
    ``current_history`` is this period's :func:`payment_history` when the caller has it
    already (the close computes it once).
    """
    config = config or KpiConfig()
    opening_ar = Decimal(str(opening_ar))
    days = config.days_in_period or (period_end - period_start).days + 1
    period = period_start.strftime("%Y-%m")

    in_period = invoices.filter(pl.col("invoice_date").is_between(period_start, period_end)).select(
        "invoice_date", "amount", "currency"
    )
    sales_base = to_base(
        in_period, "amount", base_currency=base_currency, fx_rates=fx_rates, as_of=period_end
    )
    credit_sales = _sum(sales_base, "amount_base")
    closing = _sum(aging_detail, "open_amount_base")
    current = _sum(aging_detail.filter(pl.col("days_past_due") <= 0), "open_amount_base")

    current_hist = current_history
    if current_hist is None:
        current_hist = payment_history(allocations, receipts, invoices, period)
    late = average_days_late(current_hist, config)
    overall = _weighted_sums(current_hist, [], config.clamp_early_payments)
    n_paid, overall_avg = overall["payments"].item(), overall["avg"].item()
    merged = _merge_history(history, current_hist)

    clear = allocations.select("receipt_id", "kind", "applied_amount", "currency").join(
        receipts.select("receipt_id", pl.col("value_date").alias("date")),
        on="receipt_id",
        how="left",
    )
    clear = to_base(
        clear, "applied_amount", base_currency=base_currency, fx_rates=fx_rates, as_of=period_end
    )
    weekly = weekly_collection(
        sales_base.select("invoice_date", "amount_base"),
        clear.select("date", "kind", "amount_base"),
        opening_ar=opening_ar,
        period_start=period_start,
        period_end=period_end,
    )
    rates = [r for r in weekly["recovery_rate_pct"].to_list() if r is not None]

    o, s, c, cur = (fmt_money(x) for x in (opening_ar, credit_sales, closing, current))
    rows = [
        ("dso", dso(closing, credit_sales, days), "days", f"{c} / {s} × {days}"),
        (
            "ar_turnover",
            ar_turnover(credit_sales, opening_ar, closing),
            "times",
            f"{s} / (({o} + {c}) / 2)",
        ),
        (
            "cei",
            cei(opening_ar, credit_sales, closing, current),
            "%",
            f"({o} + {s} − {c}) / ({o} + {s} − {cur}) × 100",
        ),
        ("pct_current", pct_current(current, closing), "%", f"{cur} / {c} × 100"),
        (
            "avg_days_late",
            overall_avg,
            "days",
            f"over {_counted(n_paid, 'payment')} in {period}",
        ),
        (
            "avg_weekly_recovery",
            round_money(sum(rates, ZERO) / len(rates)) if rates else None,
            "%",
            ", ".join(str(r) for r in rates) + f" over {_counted(len(rates), 'week')}",
        ),
    ]
    summary = pl.DataFrame(
        [
            {
                "kpi": k,
                "kpi_name": NAMES[k],
                "value": v,
                "unit": u,
                "formula": FORMULAS[k],
                "computation": comp,
            }
            for k, v, u, comp in rows
        ],
        schema={
            "kpi": pl.String,
            "kpi_name": pl.String,
            "value": MONEY,
            "unit": pl.String,
            "formula": pl.String,
            "computation": pl.String,
        },
    )
    return KpiResult(summary, late, weekly, days_late_trend(merged, config), merged)
