"""Charts for the notebooks, where a person would rather look than read.

Each function takes the frames a stage produced and returns a matplotlib figure (closed,
so a notebook shows it once); the figures never compute a figure of their own that the
tables do not show. Money is never summed across currencies: a chart of money is drawn
per currency, or in the base currency at the aging's stated rates, and says which on its
axis, formatted as money.
"""

from __future__ import annotations

import math
from decimal import Decimal

import polars as pl

from arlib.money import round_money

BLUE, RED, GREEN, GREY = "#4C72B0", "#C44E52", "#55A868", "#8C8C8C"

# Customer names are often Chinese: fonts with CJK glyphs are tried after the default one
# (matplotlib falls back glyph by glyph). Font files a system package installs are added
# directly, since matplotlib's font cache does not notice fonts installed after it was
# built; .ci/run installs WenQuanYi Micro Hei.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def _use_cjk_fonts() -> None:
    import os

    import matplotlib
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    for path in CJK_FONT_FILES:
        if os.path.isfile(path) and not known.intersection(CJK_FONTS):
            font_manager.fontManager.addfont(path)
            known = {font.name for font in font_manager.fontManager.ttflist}
    # glyph fallback works along an explicit family list (not through "sans-serif")
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *[f for f in CJK_FONTS if f in known]]


def has_cjk_font() -> bool:
    from matplotlib import font_manager

    _use_cjk_fonts()
    return any(font.name in CJK_FONTS for font in font_manager.fontManager.ttflist)


def money_axis(axis, currency: str) -> None:
    """Tick labels as money (``1.25 m``, ``350 k``, ``1.5 k``) with the currency in the axis
    label: up to two decimals of the unit, so that ticks 1,000 / 1,500 / 2,000 read
    ``1 k``, ``1.5 k``, ``2 k`` and never two ticks the same."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _position):
        for size, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:,.2f}".rstrip("0").rstrip(".") + f" {unit}"
        return f"{value:,.0f}"

    axis.set_major_formatter(FuncFormatter(label))


def _figure(rows: int = 1, width: float = 8, height: float = 3.2):
    import matplotlib.pyplot as plt

    _use_cjk_fonts()
    fig, axes = plt.subplots(rows, 1, figsize=(width, height * rows), squeeze=False)
    return plt, fig, [a[0] for a in axes]


def _done(plt, fig):
    fig.tight_layout()
    plt.close(fig)
    return fig


def waterfall_steps(row: dict) -> list[tuple[str, Decimal, Decimal]]:
    """(label, bar bottom, bar height) of one currency's roll-forward: opening, the
    movements, closing. Heights are signed (a decrease is negative)."""
    steps = [
        ("opening", Decimal(0), row["opening_ar"]),
        ("invoiced", row["opening_ar"], row["invoiced"]),
    ]
    level = row["opening_ar"] + row["invoiced"]
    for label, key in (
        ("cash applied", "cash_applied"),
        ("credit notes", "credit_notes_applied"),
        ("write-offs", "adjustments"),
    ):
        steps.append((label, level, -row[key]))
        level -= row[key]
    steps.append(("closing", Decimal(0), row["closing_listed"]))
    return steps


def rollforward_waterfall(rollforward: pl.DataFrame):
    """Opening AR → invoiced → cash → credit notes → write-offs → closing, one panel per
    currency (each in its own currency)."""
    rows = rollforward.sort("currency").to_dicts()
    plt, fig, axes = _figure(max(len(rows), 1))
    for axis, row in zip(axes, rows, strict=False):
        steps = waterfall_steps(row)
        colours = [BLUE, GREEN, RED, RED, RED, BLUE]
        axis.bar(
            [s[0] for s in steps],
            [float(s[2]) for s in steps],
            bottom=[float(s[1]) for s in steps],
            color=colours,
        )
        ends = [float(end) for _, bottom, height in steps for end in (bottom, bottom + height)]
        low, high = min(0.0, *ends), max(0.0, *ends)
        room = (high - low) * 0.08 or 1.0  # so that no bar looks cut off at the frame
        axis.set_ylim(low - room if low < 0 else 0, high + room)
        axis.set_title(f"Roll-forward {row['currency']}")
        axis.set_ylabel(row["currency"])
        money_axis(axis.yaxis, row["currency"])
    return _done(plt, fig)


def exceptions_by_class(exceptions: pl.DataFrame):
    """Open exceptions' amount per class, one panel per currency. A pattern (repeated late
    payment, say) has no amount and no currency, so it is in the tables, not here."""
    open_ = exceptions.filter(
        (pl.col("status") == "open")
        & pl.col("amount").is_not_null()
        & pl.col("currency").is_not_null()
    )
    sums = (
        open_.group_by("currency", "class")
        .agg(pl.col("amount").abs().sum().alias("amount"), pl.len().alias("count"))
        .sort("currency", "amount", descending=[False, True])
    )
    currencies = sums["currency"].unique(maintain_order=True).to_list()
    plt, fig, axes = _figure(max(len(currencies), 1), height=2.6)
    for axis, currency in zip(axes, currencies, strict=False):
        part = sums.filter(pl.col("currency") == currency)
        labels = [f"{c} ({n})" for c, n in zip(part["class"], part["count"], strict=True)]
        axis.barh(labels, [float(v) for v in part["amount"]], color=RED)
        axis.invert_yaxis()
        axis.set_title(f"Open exceptions by class, {currency} (count in brackets)")
        axis.set_xlabel(currency)
        money_axis(axis.xaxis, currency)
    return _done(plt, fig)


def overdue_by_customer(by_customer: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """customer_id, name, overdue (base currency at the aging's rates) of every customer
    with something overdue, the most overdue first: the chart's bars and its sentence."""
    buckets = [c for c in by_customer.columns if c not in _NOT_BUCKETS]
    overdue = [c for c in buckets if c != "not_due"]
    return (
        by_customer.with_columns(pl.sum_horizontal(overdue).alias("overdue"))
        .filter(pl.col("overdue") > 0)
        .join(names.select("customer_id", "name"), on="customer_id", how="left")
        .sort("overdue", "customer_id", descending=[True, False])
        .select("customer_id", "name", "overdue")
    )


def top_overdue_customers(by_customer: pl.DataFrame, names: pl.DataFrame, base: str, n=10):
    """The ``n`` customers with the most overdue AR (base currency at the aging's rates)."""
    top = overdue_by_customer(by_customer, names).head(n)
    plt, fig, (axis,) = _figure(height=0.35 * max(top.height, 3) + 1)
    labels = [
        f"{name or cid} ({cid})" for cid, name in zip(top["customer_id"], top["name"], strict=True)
    ]
    axis.barh(labels, [float(v) for v in top["overdue"]], color=RED)
    axis.invert_yaxis()
    axis.set_title(f"Top {top.height} overdue customers ({base}, at the aging's rates)")
    axis.set_xlabel(base)
    money_axis(axis.xaxis, base)
    return _done(plt, fig)


_NOT_BUCKETS = {
    "customer_id",
    "total_outstanding",
    "unapplied_cash",
    "unapplied_credit_notes",
    "credit_balance",
    "net_balance",
    "invalid_date",
}

UNAPPLIED_AGES = ((0, 7, "0-7 days"), (8, 30, "8-30"), (31, 60, "31-60"), (61, None, ">60"))


def unapplied_age_bands(unapplied: pl.DataFrame) -> list[tuple[str, Decimal]]:
    """(band, unapplied cash in base currency) per :data:`UNAPPLIED_AGES` band of days
    since receipt: the chart's bars and the sentence beside it."""
    bands = []
    for low, high, label in UNAPPLIED_AGES:
        within = pl.col("days_unapplied") >= low
        if high is not None:
            within &= pl.col("days_unapplied") <= high
        total = unapplied.filter(within)["unapplied_base"].sum() if unapplied.height else None
        bands.append((label, round_money(total or 0)))
    return bands


def unapplied_by_age(unapplied: pl.DataFrame, base: str):
    """Unapplied cash by days since it was received (base currency at the aging's rates)."""
    bands = unapplied_age_bands(unapplied)
    plt, fig, (axis,) = _figure(height=2.8)
    axis.bar([b[0] for b in bands], [float(b[1]) for b in bands], color=GREY)
    axis.set_title(f"Unapplied cash by days since receipt ({base})")
    axis.set_ylabel(base)
    money_axis(axis.yaxis, base)
    return _done(plt, fig)


def aging_buckets(totals: pl.DataFrame, base: str, as_of):
    """Open invoices per aging bucket (the aging summary's rows, base currency at the
    as-of rates)."""
    plt, fig, (axis,) = _figure(height=2.8)
    axis.bar(totals["bucket"].to_list(), [float(v or 0) for v in totals["amount_base"]], color=RED)
    axis.set_title(f"Aging as of {as_of} ({base})")
    axis.set_ylabel(base)
    money_axis(axis.yaxis, base)
    return _done(plt, fig)


def kpi_trend(trend: pl.DataFrame):
    """DSO (days) and CEI (%) per closed period, oldest first."""
    trend = trend.sort("period")
    plt, fig, (axis,) = _figure(height=2.8)
    periods = trend["period"].to_list()

    def values(kpi: str) -> list[float]:  # a KPI a close could not compute is a gap
        return [math.nan if v is None else float(v) for v in trend[kpi]]

    (dso,) = axis.plot(periods, values("dso"), marker="o", color=BLUE, label="DSO (days)")
    axis.set_ylabel("DSO (days)")
    other = axis.twinx()
    (cei,) = other.plot(periods, values("cei"), marker="s", color=GREEN, label="CEI (%)")
    other.set_ylabel("CEI (%)")
    # below the axes, where no point of either line can lie under it
    axis.legend(
        handles=[dso, cei],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=2,
        frameon=False,
        fontsize="small",
    )
    count = "1 closed period" if len(periods) == 1 else f"{len(periods)} closed periods"
    axis.set_title(f"DSO and CEI over {count}")
    return _done(plt, fig)
