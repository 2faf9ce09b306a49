"""Statements and letters as HTML pages: they open and print in any browser, and jinja2
escapes every value, so a customer name or memo cannot break the page."""

from __future__ import annotations

import functools
from pathlib import Path

from arlib.money import fmt_money
from arlib.statements.text import note_text

_PAGE_HTML = """<!DOCTYPE html>
<html lang="{{ d.lang }}"><head><meta charset="utf-8">
<title>{{ title }} {{ number }}</title>
<style>
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", Arial,
       sans-serif; margin: 2em; font-size: 10.5pt; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; } h2 { font-size: 12pt; margin-top: 1.4em; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb;
        padding: 3px 6px; } th { background: #e4e9f0; text-align: left; }
thead { display: table-header-group; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.meta td, .sign td { border: none; padding: 1px 8px 1px 0; } .overdue { background: #f8d7da; }
.head { border-bottom: 2px solid #345; margin-bottom: 1em; } .head img { max-height: 48px; }
.small { font-size: 9pt; color: #444; } p.letter { white-space: pre-line; }
.slip { border-top: 1px dashed #555; margin-top: 2em; padding-top: 1em; page-break-inside: avoid; }
tr.total td { font-weight: bold; }
</style></head><body>
<div class="head">{% if logo %}<img src="{{ logo }}" alt="">{% endif %}
<strong>{{ d.sender.legal_name }}</strong>
<div class="small">{{ d.sender.address or '' }}{% if d.sender.contact %} · {{ d.sender.contact
}}{% endif %}</div></div>
<h1>{{ title }}</h1>
<table class="meta"><tr><td>{{ t.to }}</td><td>{{ d.name }} ({{ d.customer_id }})</td></tr>
<tr><td>{{ t.document_number }}</td><td>{{ number }}</td></tr>
<tr><td>{{ t.issue_date }}</td><td>{{ d.issue_date }}</td></tr>
<tr><td>{{ t.period }}</td><td>{{ d.period }}</td></tr></table>
{% if kind == 'letter' %}
{% for p in d.letter %}<p class="letter">{{ p }}</p>
{% endfor %}
<p class="small">{{ t.enclosure.format(number=d.number) }}</p>
{% else %}
{% for b in books %}
<h2>{{ t.ledger }} · {{ b.currency }}</h2>
<table><thead><tr><th>{{ t.date }}</th><th>{{ t.type }}</th><th>{{ t.your_ref }}</th>
<th>{{ t.our_ref }}</th><th>{{ t.detail }}</th><th>{{ t.debit }}</th><th>{{ t.credit }}</th>
<th>{{ t.balance }}</th></tr></thead><tbody>
<tr class="total"><td></td><td colspan="6">{{ t.opening }}</td>
<td class="num">{{ b.opening }}</td></tr>
{% for r in b.lines %}<tr><td>{{ r.date }}</td><td>{{ r.kind }}</td><td>{{ r.reference }}</td>
<td>{{ r.ours }}</td><td>{{ r.detail }}</td><td class="num">{{ r.debit }}</td>
<td class="num">{{ r.credit }}</td><td class="num">{{ r.balance }}</td></tr>
{% endfor %}<tr class="total"><td></td><td colspan="6">{{ t.closing }}</td>
<td class="num">{{ b.closing }}</td></tr></tbody></table>
<h2>{{ t.open_items }} · {{ b.currency }}</h2>
{% if b.invoices %}<table><thead><tr><th>{{ t.invoice }}</th><th>{{ t.invoice_date }}</th>
<th>{{ t.due_date }}</th><th>{{ t.your_ref }}</th><th>{{ t.open }}</th><th>{{ t.days }}</th>
<th>{{ t.note }}</th></tr></thead><tbody>
{% for r in b.invoices %}<tr{% if r.days > 0 %} class="overdue"{% endif %}>
<td>{{ r.invoice_id }}</td><td>{{ r.invoice_date }}</td><td>{{ r.due_date }}</td>
<td>{{ r.reference }}</td><td class="num">{{ r.amount }}</td>
<td class="num">{{ r.days if r.days > 0 else '' }}</td>
<td>{{ t.under_dispute if r.disputed else '' }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>{{ t.none }}</p>{% endif %}
<table><tr>{% for label, _ in b.aging %}<th>{{ label }}</th>{% endfor %}</tr>
<tr>{% for _, amount in b.aging %}<td class="num">{{ amount }}</td>{% endfor %}</tr></table>
<h2>{{ t.unapplied }} · {{ b.currency }}</h2>
{% if b.cash %}<table><thead><tr><th>{{ t.date }}</th><th>{{ t.your_ref }}</th>
<th>{{ t.our_ref }}</th><th>{{ t.unapplied_amount }}</th></tr></thead><tbody>
{% for r in b.cash %}<tr><td>{{ r.value_date }}</td><td>{{ r.reference }}</td>
<td>{{ r.receipt_id }}</td><td class="num">{{ r.amount }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>{{ t.none }}</p>{% endif %}
<table class="meta">{% for label, amount in b.summary %}<tr><td>{{ label }}</td>
<td class="num">{{ b.currency }} {{ amount }}</td></tr>{% endfor %}</table>
{% endfor %}
{% if d.sender.bank %}<p>{{ t.pay_to }}: {{ d.sender.bank }}</p>{% endif %}
<p>{{ t.confirm.format(days=d.reply_days) }}</p>
{% endif %}
<table class="sign"><tr><td>{{ t.seal.format(sender=d.sender.legal_name) }}</td></tr>
<tr><td class="small">{{ t.seal_line }}: ____________________</td></tr></table>
{% if kind == 'statement' %}
<div class="slip"><h2>{{ t.reply }}</h2>
<p>{{ t.reply_to.format(sender=d.sender.legal_name) }}</p>
<p>{{ t.reply_intro.format(number=d.number, as_of=d.issue_date) }}
{% for b in books %}{{ b.currency }} {{ b.closing }}{% if not loop.last %}, {% endif %}
{% endfor %}</p>
<p>☐ {{ t.reply_ok }}</p><p>☐ {{ t.reply_not_ok }}</p>
<table><tr><th>{{ t.reply_item }}</th><th>{{ t.reply_ours }}</th><th>{{ t.reply_theirs }}</th>
<th>{{ t.reply_remark }}</th></tr>
{% for _ in range(3) %}<tr><td>&nbsp;</td><td></td><td></td><td></td></tr>{% endfor %}</table>
<p>{{ t.reply_sign.format(customer=d.name) }}: ____________________
&nbsp; {{ t.reply_date }}: __________</p></div>
{% endif %}
</body></html>
"""


@functools.cache
def _page():
    """The page, compiled on first use: importing the params types then needs no jinja2."""
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        _PAGE_HTML
    )


def books(doc) -> list[dict]:
    """Each currency's ledger with its money formatted, as the HTML and PDF show it."""
    t = doc.text
    shown = []
    for book in doc.ledgers:
        lines = [
            {
                "date": line.date.isoformat() if line.date else "",
                "kind": t[line.kind],
                "reference": line.reference,
                "ours": line.ours,
                "detail": note_text(t, line.note, line.note_arg),
                "debit": fmt_money(line.amount) if line.amount > 0 else "",
                "credit": fmt_money(-line.amount) if line.amount < 0 else "",
                "balance": fmt_money(line.balance),
            }
            for line in book.lines
        ]
        items = [
            {
                "invoice_id": i.invoice_id,
                "invoice_date": i.invoice_date.isoformat() if i.invoice_date else "",
                "due_date": i.due_date.isoformat() if i.due_date else "",
                "reference": i.reference,
                "amount": fmt_money(i.amount),
                "days": i.days_past_due,
                "disputed": i.disputed,
            }
            for i in book.open_items
        ]
        cash = [
            {
                "value_date": c.value_date.isoformat() if c.value_date else "",
                "reference": c.reference,
                "receipt_id": c.receipt_id,
                "amount": fmt_money(c.amount),
            }
            for c in book.unapplied
        ]
        summary = [
            (t["open_total"], book.open_total),
            (t["overdue"], book.overdue),
            (t["disputed"], book.disputed),
            (t["unapplied"], -book.unapplied_total),
            (t["balance_due"], book.closing),
        ]
        shown.append(
            {
                "currency": book.currency,
                "opening": fmt_money(book.opening),
                "closing": fmt_money(book.closing),
                "lines": lines,
                "invoices": items,
                "cash": cash,
                "aging": [(label, fmt_money(a)) for label, a in book.aging],
                "summary": [(label, fmt_money(a)) for label, a in summary],
            }
        )
    return shown


def _render(doc, kind: str, path: Path) -> Path:
    t = doc.text
    title = t["statement"] if kind == "statement" else t[f"letter_{doc.level}"]
    number = doc.number if kind == "statement" else doc.letter_number
    logo = _data_uri(doc.logo) if doc.logo else None
    page = _page().render(
        kind=kind, d=doc, t=t, title=title, number=number, logo=logo,
        books=books(doc) if kind == "statement" else [],
    )  # fmt: skip
    path.write_text(page, encoding="utf-8")
    return path


def _data_uri(path: Path) -> str:
    """The logo inside the page, so the page shows it wherever it is opened or sent."""
    import base64

    kind = "png" if path.suffix.lower() == ".png" else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def write_statement(doc, path: Path) -> Path:
    return _render(doc, "statement", path)


def write_letter(doc, path: Path) -> Path:
    return _render(doc, "letter", path)
