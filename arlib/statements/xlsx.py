"""A statement as an xlsx workbook, for customers who reconcile in Excel: one sheet, each
currency's ledger, open items and unapplied cash as tables with real dates and numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from arlib.statements.text import note_text

MONEY_FORMAT = "#,##0.00;-#,##0.00"


def write_statement(doc, path: Path) -> Path:
    import xlsxwriter

    t = doc.text
    book = xlsxwriter.Workbook(str(path), {"in_memory": True})
    # a fixed date, so the same close writes the same bytes (as the workpapers do)
    book.set_properties(
        {
            "title": f"{t['statement']} {doc.number}",
            "author": "arlib",
            "created": dt.datetime(2000, 1, 1),
        }
    )
    book.set_calc_mode("auto")
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#E4E9F0", "border": 1})
    money = book.add_format({"num_format": MONEY_FORMAT})
    money_bold = book.add_format({"num_format": MONEY_FORMAT, "bold": True, "top": 1})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    ws = book.add_worksheet(t["statement"][:31])
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 16)
    ws.set_column(2, 2, 30)
    ws.set_column(3, 4, 16)
    ws.set_column(5, 7, 15)
    ws.write(0, 0, doc.sender.legal_name or "", title)
    ws.write(1, 0, t["statement"], bold)
    meta = [
        (t["to"], f"{doc.name} ({doc.customer_id})"),
        (t["document_number"], doc.number),
        (t["issue_date"], doc.issue_date),
        (t["period"], doc.period),
    ]
    row = 2
    for label, value in meta:
        ws.write(row, 0, label)
        ws.write(row, 1, value)
        row += 1
    for ledger in doc.ledgers:
        row += 1
        ws.write(row, 0, f"{t['ledger']} · {ledger.currency}", bold)
        row += 1
        header = [t["date"], t["type"], t["your_ref"], t["our_ref"], t["detail"]]
        ws.write_row(row, 0, [*header, t["debit"], t["credit"], t["balance"]], head)
        row += 1
        ws.write(row, 1, t["opening"], bold)
        ws.write_number(row, 7, float(ledger.opening), money_bold)
        row += 1
        for line in ledger.lines:
            if line.date:
                ws.write_datetime(row, 0, dt.datetime.combine(line.date, dt.time()), date)
            ws.write(row, 1, t[line.kind])
            ws.write_string(row, 2, line.reference)
            ws.write_string(row, 3, line.ours)
            ws.write_string(row, 4, note_text(t, line.note, line.note_arg))
            column = 5 if line.amount > 0 else 6
            ws.write_number(row, column, float(abs(line.amount)), money)
            ws.write_number(row, 7, float(line.balance), money)
            row += 1
        ws.write(row, 1, t["closing"], bold)
        ws.write_number(row, 7, float(ledger.closing), money_bold)
        row += 2
        ws.write(row, 0, f"{t['open_items']} · {ledger.currency}", bold)
        row += 1
        header = [t["invoice"], t["invoice_date"], t["due_date"], t["your_ref"], t["open"]]
        ws.write_row(row, 0, [*header, t["days"], t["note"]], head)
        row += 1
        for item in ledger.open_items:
            ws.write_string(row, 0, item.invoice_id)
            for column, day in ((1, item.invoice_date), (2, item.due_date)):
                if day:
                    ws.write_datetime(row, column, dt.datetime.combine(day, dt.time()), date)
            ws.write_string(row, 3, item.reference)
            ws.write_number(row, 4, float(item.amount), money)
            if item.days_past_due > 0:
                ws.write_number(row, 5, item.days_past_due)
            if item.disputed:
                ws.write(row, 6, t["under_dispute"])
            row += 1
        if ledger.unapplied:
            row += 1
            ws.write(row, 0, f"{t['unapplied']} · {ledger.currency}", bold)
            row += 1
            ws.write_row(
                row, 0, [t["date"], t["your_ref"], t["our_ref"], t["unapplied_amount"]], head
            )
            row += 1
            for cash in ledger.unapplied:
                if cash.value_date:
                    ws.write_datetime(row, 0, dt.datetime.combine(cash.value_date, dt.time()), date)
                ws.write_string(row, 1, cash.reference)
                ws.write_string(row, 2, cash.receipt_id)
                ws.write_number(row, 3, float(cash.amount), money)
                row += 1
        row += 1
        for label, amount in [
            *((f"{t['aging']} {label}", a) for label, a in ledger.aging),
            (t["open_total"], ledger.open_total),
            (t["overdue"], ledger.overdue),
            (t["disputed"], ledger.disputed),
            (t["unapplied"], -ledger.unapplied_total),
            (t["balance_due"], ledger.closing),
        ]:
            ws.write(row, 0, label)
            ws.write(row, 1, ledger.currency)
            ws.write_number(row, 2, float(amount), money)
            row += 1
    book.close()
    return path
