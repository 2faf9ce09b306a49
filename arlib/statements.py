"""Customer statements (对账单) and collection letters (催收函) of a close, one HTML file each.

Why HTML: it opens and prints (to paper or PDF) in any browser, needs no extra engine on
the finance machine, and jinja2 escapes every value, so a customer name or memo cannot
break the page. Which customers get one is the period's choice (``statements:`` in the
params; none by default, as DESIGN.md says "where the period asks for them").

A statement lists the customer's open invoices (as aged at the as-of date, those under
dispute marked so), the cash applied this period and the cash received but not yet applied,
with totals per currency. ``statements/index.csv`` lists every file with those totals, and
the open amounts are checked against the aging before anything is written: a statement
never shows a balance the workpapers do not.

A collection letter asks only for what is not in dispute (:func:`disputed_invoices`), and
says "second notice" or "final demand" only when the notices before it were sent: its level
comes from the dunning history of its invoices (:func:`arlib.dunning.plan_letters`).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import polars as pl
from pydantic import Field

from arlib.money import fmt_money
from arlib.paramtypes import Flag, Range, Section, Text, Whole, choice
from arlib.safe_output import write_csv
from arlib.schema import MONEY

SELECTIONS = ("none", "all", "overdue")
#: an open exception of these classes puts the invoice it names under dispute (a short
#: payment nobody has explained is one, until it is resolved)
DISPUTE_CLASSES = ("dispute",)


Selection = choice(SELECTIONS, "customer selection")


class StatementConfig(Section):
    """``statements:`` section of the params."""

    customers: Selection = Field(
        "none",
        description="none, all (every customer with an open invoice or unapplied cash) or "
        "overdue (customers with an overdue tier)",
    )
    customer_ids: tuple[Text, ...] = Field(
        (), description="these customers too, whatever customers says"
    )
    letters: Flag = Field(
        True,
        description="a collection letter for each selected customer with an overdue tier once "
        "its invoices under dispute are left out; worded one step past the notices its overdue "
        "invoices were sent (reminder, second notice, final demand; only notices recorded as "
        "sent or confirmed count), never past what the tier asks for (most severe tier: final "
        "demand, mildest: reminder)",
    )
    sender: Text | None = Field(
        None, description="the company named on statements and letters; null: the entity"
    )
    reply_days: Annotated[Whole, Range(ge=0)] = Field(
        10, description="days the customer has to confirm the balance or report differences"
    )


INDEX_SCHEMA = {
    "customer_id": pl.String,
    "name": pl.String,
    "language": pl.String,
    "currency": pl.String,
    "open_amount": MONEY,
    "unapplied": MONEY,
    "balance": MONEY,
    "under_dispute": MONEY,
    "tier": pl.String,
    "letter_level": pl.String,
    "statement": pl.String,
    "letter": pl.String,
}

_TEXT = {
    "en": {
        "statement": "Statement of account",
        "customer": "Customer",
        "as_of": "As of",
        "period": "Period",
        "open_items": "Open invoices",
        "invoice": "Invoice",
        "invoice_date": "Invoice date",
        "due_date": "Due date",
        "currency": "Currency",
        "open": "Open amount",
        "days": "Days past due",
        "note": "Note",
        "under_dispute": "Under dispute",
        "payments": "Payments applied this period",
        "receipt": "Receipt",
        "value_date": "Value date",
        "applied": "Applied",
        "unapplied": "Received, not yet applied",
        "amount": "Amount",
        "totals": "Balance",
        "balance": "Balance due",
        "none": "None.",
        "confirm": (
            "Please confirm this balance, or tell us of any difference, within {days} days "
            "of receiving this statement."
        ),
        "letter": "Collection letter",
        "dear": "Dear {name},",
        "overdue": (
            "Our records show {count} invoice(s) past due, the oldest by {days} days, "
            "totalling {amounts}. The statement of account is enclosed."
        ),
        "reminder": "Perhaps this has been overlooked; please arrange payment at your earliest "
        "convenience. If you have already paid, please disregard this reminder.",
        "second": "This is our second notice. Please settle the overdue amount within "
        "{days} days or contact us to agree a payment plan.",
        "final": "This is our final demand. Unless the overdue amount is paid within {days} "
        "days, we will suspend supplies and refer the matter for collection.",
        "disputed": "{count} invoice(s) under dispute ({amounts}) are not included: we will "
        "settle them with you separately.",
        "regards": "Yours faithfully,",
    },
    "zh": {
        "statement": "对账单",
        "customer": "客户",
        "as_of": "截至日期",
        "period": "会计期间",
        "open_items": "未结发票",
        "invoice": "发票号",
        "invoice_date": "开票日期",
        "due_date": "到期日",
        "currency": "币种",
        "open": "未结金额",
        "days": "逾期天数",
        "note": "备注",
        "under_dispute": "争议中",
        "payments": "本期已核销回款",
        "receipt": "回款流水号",
        "value_date": "到账日期",
        "applied": "核销金额",
        "unapplied": "已收未核销款项",
        "amount": "金额",
        "totals": "余额",
        "balance": "应付余额",
        "none": "无。",
        "confirm": "请于收到本对账单后{days}日内确认上述余额，如有差异请及时告知。",
        "letter": "催款函",
        "dear": "{name}：",
        "overdue": (
            "经核对，贵司共有{count}张发票已逾期，最长逾期{days}天，逾期金额合计{amounts}。"
            "对账单随函附上。"
        ),
        "reminder": "可能是贵司疏忽，烦请尽快安排付款；如已付款，请忽略本提醒。",
        "second": "此为第二次催款通知。请于{days}日内结清逾期款项，或与我司联系商定还款计划。",
        "final": "此为最后催款通知。如逾期款项未能于{days}日内付清，我司将暂停供货并委托催收。",
        "disputed": "另有{count}张争议中的发票（{amounts}）未计入上述金额，将另行与贵司协商解决。",
        "regards": "此致\n敬礼",
    },
}

_PAGE_HTML = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t.statement if kind == 'statement' else t.letter }} {{ c.customer_id }}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", Arial, sans-serif; margin: 2em;
       font-size: 11pt; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; } h2 { font-size: 12pt; margin-top: 1.4em; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb;
        padding: 3px 6px; } th { background: #e4e9f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta td { border: none; padding: 1px 8px 1px 0; } .overdue { background: #f8d7da; }
p.letter { white-space: pre-line; }
</style></head><body>
<p><strong>{{ sender }}</strong></p>
{% if kind == 'letter' %}
<h1>{{ t.letter }}</h1>
<table class="meta"><tr><td>{{ t.customer }}</td><td>{{ c.name }} ({{ c.customer_id }})</td></tr>
<tr><td>{{ t.as_of }}</td><td>{{ as_of }}</td></tr></table>
<p class="letter">{{ t.dear.format(name=c.name) }}</p>
<p class="letter">{{ t.overdue.format(count=c.overdue_count, days=c.max_days,
   amounts=c.overdue_text) }}</p>
<p class="letter">{{ t[c.level].format(days=reply_days) }}</p>
{% if c.disputed_count %}<p class="letter">{{ t.disputed.format(count=c.disputed_count,
   amounts=c.disputed_text) }}</p>{% endif %}
<p class="letter">{{ t.regards }}
{{ sender }}</p>
{% else %}
<h1>{{ t.statement }}</h1>
<table class="meta"><tr><td>{{ t.customer }}</td><td>{{ c.name }} ({{ c.customer_id }})</td></tr>
<tr><td>{{ t.period }}</td><td>{{ period }}</td></tr>
<tr><td>{{ t.as_of }}</td><td>{{ as_of }}</td></tr></table>
<h2>{{ t.open_items }}</h2>
{% if c.open %}<table><tr><th>{{ t.invoice }}</th><th>{{ t.invoice_date }}</th>
<th>{{ t.due_date }}</th><th>{{ t.currency }}</th><th>{{ t.open }}</th><th>{{ t.days }}</th>
<th>{{ t.note }}</th></tr>
{% for r in c.open %}<tr{% if r.days_past_due > 0 %} class="overdue"{% endif %}>
<td>{{ r.invoice_id }}</td><td>{{ r.invoice_date }}</td><td>{{ r.due_date }}</td>
<td>{{ r.currency }}</td><td class="num">{{ r.amount }}</td>
<td class="num">{{ r.days_past_due if r.days_past_due > 0 else '' }}</td>
<td>{{ t.under_dispute if r.disputed else '' }}</td></tr>
{% endfor %}</table>{% else %}<p>{{ t.none }}</p>{% endif %}
<h2>{{ t.payments }}</h2>
{% if c.paid %}<table><tr><th>{{ t.receipt }}</th><th>{{ t.value_date }}</th>
<th>{{ t.invoice }}</th><th>{{ t.currency }}</th><th>{{ t.applied }}</th></tr>
{% for r in c.paid %}<tr><td>{{ r.receipt_id }}</td><td>{{ r.value_date }}</td>
<td>{{ r.invoice_id }}</td><td>{{ r.currency }}</td><td class="num">{{ r.amount }}</td></tr>
{% endfor %}</table>{% else %}<p>{{ t.none }}</p>{% endif %}
<h2>{{ t.unapplied }}</h2>
{% if c.cash %}<table><tr><th>{{ t.receipt }}</th><th>{{ t.value_date }}</th>
<th>{{ t.currency }}</th><th>{{ t.amount }}</th></tr>
{% for r in c.cash %}<tr><td>{{ r.receipt_id }}</td><td>{{ r.value_date }}</td>
<td>{{ r.currency }}</td><td class="num">{{ r.amount }}</td></tr>
{% endfor %}</table>{% else %}<p>{{ t.none }}</p>{% endif %}
<h2>{{ t.totals }}</h2>
<table><tr><th>{{ t.currency }}</th><th>{{ t.open }}</th><th>{{ t.unapplied }}</th>
<th>{{ t.balance }}</th></tr>
{% for r in c.totals %}<tr><td>{{ r.currency }}</td><td class="num">{{ r.open }}</td>
<td class="num">{{ r.unapplied }}</td><td class="num"><strong>{{ r.balance }}</strong></td></tr>
{% endfor %}</table>
<p>{{ t.confirm.format(days=reply_days) }}</p>
{% endif %}
</body></html>
"""


@functools.cache
def _page():
    """The statement and letter page, compiled on first use: importing the params types
    (:class:`StatementConfig`) then does not import jinja2."""
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        _PAGE_HTML
    )


def _language(declared: str | None, name: str | None) -> str:
    """The customer's ``language`` when it is Chinese or English, else by the name's script."""
    lang = (declared or "").strip().lower()
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("en"):
        return "en"
    return "zh" if re.search(r"[\u4e00-\u9fff]", name or "") else "en"


def _file_stem(customer_id: str, taken: set[str]) -> str:
    """A file name from the customer id: path separators and odd characters become '_'."""
    stem = re.sub(r"[^\w.-]", "_", customer_id).strip(".") or "customer"
    candidate, k = stem, 2
    while candidate in taken:
        candidate, k = f"{stem}_{k}", k + 1
    taken.add(candidate)
    return candidate


def selected_customers(review, match, config: StatementConfig) -> list[str]:
    """Customer ids that get a statement, sorted."""
    chosen: set[str] = set(config.customer_ids)
    if config.customers == "all":
        chosen |= set(review.aging.detail.get_column("customer_id").drop_nulls().to_list())
        cash = match.receipts.filter(pl.col("unapplied") > 0)
        chosen |= set(cash.get_column("customer_id").drop_nulls().to_list())
    elif config.customers == "overdue":
        tiers = review.tiers.filter(pl.col("tier").is_not_null())
        chosen |= set(tiers.get_column("customer_id").drop_nulls().to_list())
    return sorted(chosen)


def disputed_invoices(
    invoices: pl.DataFrame,
    decisions: pl.DataFrame | None,
    exceptions: pl.DataFrame,
    disputes: pl.DataFrame | None = None,
) -> set[str]:
    """Invoices under dispute: flagged ``disputed`` (in the invoice file, or carried so),
    named by a ``dispute`` decision (carried ones included), by an open exception of a
    :data:`DISPUTE_CLASSES` class, or by a customer's dispute not yet resolved
    (``disputes``, the register of :mod:`arlib.followup.disputes`)."""
    from arlib.followup.disputes import open_dispute_invoices

    ids: set[str] = open_dispute_invoices(disputes)
    if "disputed" in invoices.columns:
        ids |= set(invoices.filter(pl.col("disputed").fill_null(False))["invoice_id"])
    if decisions is not None and decisions.height:
        held = decisions.filter(pl.col("action") == "dispute")["invoice_id"].drop_nulls()
        ids |= set(held)
    named = exceptions.filter(
        (pl.col("status") == "open") & pl.col("class").is_in(DISPUTE_CLASSES)
    )["invoice_id"]
    return ids | set(named.drop_nulls())


def write_statements(result, out: Path) -> list[Path]:
    """Write ``statements/<customer>.html`` (and ``letters/<customer>.html``) for the
    selected customers plus ``statements/index.csv``; nothing when none are selected."""
    config = result.config.statements
    review, match = result.review, result.match
    ids = selected_customers(review, match, config)
    if not ids:
        return []
    levels = {r["customer_id"]: r["level"] for r in result.letters.iter_rows(named=True)}
    frames = result.period.frames
    disputed = disputed_invoices(
        match.invoices, frames["decisions"], review.exceptions, frames.get("disputes")
    )
    customers = result.period.frames["customers"]
    info = {
        r["customer_id"]: r
        for r in customers.select(
            "customer_id",
            "name",
            pl.col("language")
            if "language" in customers.columns
            else pl.lit(None, pl.String).alias("language"),
        ).iter_rows(named=True)
    }
    tiers = {r["customer_id"]: r for r in review.tiers.iter_rows(named=True)}
    detail = review.aging.detail.filter(pl.col("customer_id").is_in(ids)).sort(
        "customer_id", "due_date", "invoice_id"
    )
    paid = (
        match.allocations.filter(pl.col("customer_id").is_in(ids) & (pl.col("kind") == "cash"))
        .join(match.receipts.select("receipt_id", "value_date"), on="receipt_id", how="inner")
        .sort("customer_id", "value_date", "receipt_id", "invoice_id")
    )
    cash = match.receipts.filter(pl.col("customer_id").is_in(ids) & (pl.col("unapplied") > 0)).sort(
        "customer_id", "value_date", "receipt_id"
    )
    groups = {
        name: {k[0]: part for k, part in frame.group_by("customer_id", maintain_order=True)}
        for name, frame in (("open", detail), ("paid", paid), ("cash", cash))
    }
    sender = config.sender or result.config.entity or ""
    folder = out / "statements"
    letters = out / "letters"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index_rows: list[dict] = []
    taken: set[str] = set()
    for cid in ids:
        who = info.get(cid, {"name": None, "language": None})
        name = who["name"] or cid
        lang = _language(who["language"], name)
        c = _customer_view(cid, name, groups, tiers.get(cid), levels.get(cid), disputed)
        stem = _file_stem(cid, taken)
        page = {
            "c": c,
            "t": _TEXT[lang],
            "lang": lang,
            "sender": sender,
            "period": result.config.period,
            "as_of": result.config.as_of.isoformat(),
            "reply_days": config.reply_days,
        }
        path = folder / f"{stem}.html"
        path.write_text(_page().render(kind="statement", **page), encoding="utf-8")
        written.append(path)
        letter = None
        if c["level"]:
            letters.mkdir(parents=True, exist_ok=True)
            letter = letters / f"{stem}.html"
            letter.write_text(_page().render(kind="letter", **page), encoding="utf-8")
            written.append(letter)
        for row in c["totals_raw"]:
            index_rows.append(
                {
                    "customer_id": cid,
                    "name": name,
                    "language": lang,
                    **row,
                    "tier": c["tier"],
                    "letter_level": c["level"],
                    "statement": str(path.relative_to(out)),
                    "letter": str(letter.relative_to(out)) if letter else None,
                }
            )
    index = pl.DataFrame(index_rows, schema=INDEX_SCHEMA)
    _check_against_aging(index, detail)
    index_path = folder / "index.csv"
    write_csv(index, index_path)
    return [*written, index_path]


def _customer_view(cid, name, groups, tier_row, level, disputed: set[str]) -> dict:
    """What one customer's pages show, money formatted; ``totals_raw`` keeps Decimals. The
    letter's overdue figures leave out the invoices under dispute and name them apart."""
    open_ = groups["open"].get(cid, pl.DataFrame())
    paid = groups["paid"].get(cid, pl.DataFrame())
    cash = groups["cash"].get(cid, pl.DataFrame())
    totals: dict[str, dict[str, Decimal]] = {}

    def add(currency: str, key: str, amount: Decimal) -> None:
        zero = Decimal("0.00")
        row = totals.setdefault(currency, {"open": zero, "unapplied": zero, "disputed": zero})
        row[key] += amount

    open_rows = []
    for r in open_.iter_rows(named=True):
        add(r["currency"], "open", r["open_amount"])
        if r["invoice_id"] in disputed:
            add(r["currency"], "disputed", r["open_amount"])
        open_rows.append(
            {
                **{k: r[k] for k in ("invoice_id", "invoice_date", "due_date", "currency")},
                "amount": fmt_money(r["open_amount"]),
                "days_past_due": r["days_past_due"] or 0,
                "disputed": r["invoice_id"] in disputed,
            }
        )
    paid_rows = [
        {
            **{k: r[k] for k in ("receipt_id", "value_date", "invoice_id", "currency")},
            "amount": fmt_money(r["applied_amount"]),
        }
        for r in paid.iter_rows(named=True)
    ]
    cash_rows = []
    for r in cash.iter_rows(named=True):
        add(r["currency"], "unapplied", r["unapplied"])
        cash_rows.append(
            {
                **{k: r[k] for k in ("receipt_id", "value_date", "currency")},
                "amount": fmt_money(r["unapplied"]),
            }
        )
    totals_raw = [
        {
            "currency": ccy,
            "open_amount": t["open"],
            "unapplied": t["unapplied"],
            "balance": t["open"] - t["unapplied"],
            "under_dispute": t["disputed"],
        }
        for ccy, t in sorted(totals.items())
    ]
    late = [r for r in open_.iter_rows(named=True) if (r["days_past_due"] or 0) > 0]
    overdue = [r for r in late if r["invoice_id"] not in disputed]
    held = [r for r in late if r["invoice_id"] in disputed]
    tier = tier_row["tier"] if tier_row else None
    return {
        "customer_id": cid,
        "name": name,
        "open": open_rows,
        "paid": paid_rows,
        "cash": cash_rows,
        "totals": [
            {
                "currency": t["currency"],
                "open": fmt_money(t["open_amount"]),
                "unapplied": fmt_money(t["unapplied"]),
                "balance": fmt_money(t["balance"]),
            }
            for t in totals_raw
        ],
        "totals_raw": totals_raw,
        "tier": tier,
        "level": level,
        "overdue_count": len(overdue),
        "max_days": max((r["days_past_due"] for r in overdue), default=0),
        "overdue_text": _per_currency(overdue),
        "disputed_count": len(held),
        "disputed_text": _per_currency(held),
    }


def _per_currency(rows: list[dict]) -> str:
    """``CNY 1,000.00, USD 20.00``: the open amounts of ``rows`` per currency."""
    by_ccy: dict[str, Decimal] = {}
    for r in rows:
        by_ccy[r["currency"]] = by_ccy.get(r["currency"], Decimal("0.00")) + r["open_amount"]
    return ", ".join(f"{ccy} {fmt_money(a)}" for ccy, a in sorted(by_ccy.items()))


def _check_against_aging(index: pl.DataFrame, detail: pl.DataFrame) -> None:
    """The statements' open amounts, per currency, are the aging's for those customers."""
    shown = index.group_by("currency").agg(pl.col("open_amount").sum())
    aged = detail.group_by("currency").agg(pl.col("open_amount").sum())
    both = shown.join(aged, on="currency", how="full", coalesce=True, suffix="_aged")
    bad = both.filter(
        pl.col("open_amount").fill_null(Decimal(0))
        != pl.col("open_amount_aged").fill_null(Decimal(0))
    )
    if bad.height:
        raise AssertionError(f"statements do not tie to the aging: {bad.to_dicts()}")
