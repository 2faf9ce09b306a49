"""Statements and letters as PDF, the documents a company sends (reportlab).

Why these fonts: a statement names Chinese customers and is often worded in Chinese, so the
text must show and be extractable on any machine. A TrueType CJK font of the system
(:data:`FONT_FILES`, e.g. WenQuanYi Micro Hei, which scripts/system_packages.sh installs) is
embedded as a subset where present, so every viewer shows the same glyphs; elsewhere
reportlab's built-in STSong-Light (one of the standard Adobe Asian fonts, which viewers
supply) needs nothing beyond PyPI. Either way the text is Unicode in the PDF: a reader can
copy it and a test can extract it.

Each page repeats the letterhead, the table header of a table that runs over, and says
"page n of N"; the document number is on every page.
"""

from __future__ import annotations

import functools
from pathlib import Path

from arlib.statements.html import books

#: TrueType CJK fonts tried in order (OpenType/CFF ones such as Noto CJK's .ttc cannot be
#: embedded by reportlab and are skipped)
FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
BUILTIN_FONT = "STSong-Light"


@functools.cache
def font() -> str:
    """The name of the registered CJK font (see the module docstring)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    for path in FONT_FILES:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont("arlib-cjk", path, subfontIndex=0))
            except (TTFError, OSError):
                continue
            return "arlib-cjk"
    pdfmetrics.registerFont(UnicodeCIDFont(BUILTIN_FONT))
    return BUILTIN_FONT


@functools.cache
def _styles() -> dict:
    from reportlab.lib.styles import ParagraphStyle

    name = font()
    base = ParagraphStyle("body", fontName=name, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11, leading=15, spaceBefore=8),
        "letter": ParagraphStyle("letter", parent=base, fontSize=10.5, leading=16, spaceAfter=8),
    }


def _p(text: str, style: str = "body"):
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), _styles()[style])


def _cell(text: str, width_mm: float) -> str:
    """A table cell's text broken into lines that fit the column: the width estimated from
    the characters (CJK ones a full em, others about 0.6), erring towards breaking. Cheaper
    than a wrapping paragraph for the thousands of cells of a long statement."""
    room = (width_mm * 72 / 25.4 - 6) / 7.5  # ems at the cells' 7.5 pt
    lines, line, used = [], "", 0.0
    for char in text:
        width = 1.0 if ord(char) >= 0x2E80 else 0.62
        if used + width > room and line:
            cut = line.rfind(" ")  # at a space where the line has one, else here
            head, line = (line[:cut], line[cut + 1 :]) if cut > 0 else (line, "")
            lines.append(head.rstrip())
            used = sum(1.0 if ord(c) >= 0x2E80 else 0.62 for c in line)
            if char == " " and not line:
                continue
        line += char
        used += width
    lines.append(line)
    return "\n".join(lines)


def _table(rows, widths, *, header: bool = True, numeric=(), bold_rows=(), heights=None):
    """A grid of 7.5 pt text. Rows of plain strings get their heights from their line
    counts, so reportlab need not measure every cell again each time a long table is split
    over a page."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    style = [
        ("FONTNAME", (0, 0), (-1, -1), font()),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LEADING", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e9f0")))
    for column in numeric:
        style.append(("ALIGN", (column, 1 if header else 0), (column, -1), "RIGHT"))
    for row in bold_rows:
        style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#f3f3f3")))
    if heights is None and all(isinstance(c, str) for row in rows for c in row):
        heights = [9 * (1 + max(c.count("\n") for c in row)) + 4 for row in rows]
    table = Table(
        rows, colWidths=widths, rowHeights=heights, repeatRows=1 if header else 0, hAlign="LEFT"
    )
    table.setStyle(TableStyle(style))
    return table


def _numbered_canvas(doc, number: str):
    """A canvas that draws the letterhead and 'page n of N' once the page count is known."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    t, sender = doc.text, doc.sender

    class Numbered(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(len(self._pages))
                super().showPage()
            super().save()

        def _decorate(self, pages: int) -> None:
            width, height = self._pagesize
            left, right, top = 18 * mm, width - 18 * mm, height - 14 * mm
            x = left
            if doc.logo is not None:
                self.drawImage(
                    str(doc.logo), left, top - 12 * mm, width=24 * mm, height=12 * mm,
                    preserveAspectRatio=True, anchor="sw", mask="auto",
                )  # fmt: skip
                x = left + 27 * mm
            self.setFont(font(), 12)
            self.drawString(x, top - 4 * mm, sender.legal_name or "")
            self.setFont(font(), 7.5)
            line = " · ".join(p for p in (sender.address, sender.contact) if p)
            self.drawString(x, top - 9 * mm, line)
            self.setLineWidth(0.8)
            self.line(left, top - 13 * mm, right, top - 13 * mm)
            self.setFont(font(), 7.5)
            self.drawString(left, 10 * mm, f"{t['document_number']} {number}")
            self.drawRightString(
                right, 10 * mm, t["page"].format(page=self._pageNumber, pages=pages)
            )

    return Numbered


def _build(doc, path: Path, number: str, story: list) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    title = doc.text["statement"] if number == doc.number else doc.text[f"letter_{doc.level}"]
    template = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
        topMargin=32 * mm, bottomMargin=18 * mm, title=f"{title} {number}",
        author=doc.sender.legal_name or "", subject=doc.name, creator="arlib",
        invariant=1,  # the same close writes the same bytes: no timestamp, fixed id
    )  # fmt: skip
    template.build(story, canvasmaker=_numbered_canvas(doc, number))
    return path


def _heading(doc, title: str, number: str) -> list:
    from reportlab.lib.units import mm

    t = doc.text
    meta = [
        [t["to"], f"{doc.name} ({doc.customer_id})"],
        [t["document_number"], number],
        [t["issue_date"], doc.issue_date],
        [t["period"], doc.period],
    ]
    table = _table(meta, [28 * mm, 140 * mm], header=False)
    table.setStyle([("GRID", (0, 0), (-1, -1), 0, (1, 1, 1)), ("FONTSIZE", (0, 0), (-1, -1), 9)])
    return [_p(title, "title"), table]


def _seal(doc) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer

    t = doc.text
    return [
        KeepTogether(
            [
                Spacer(1, 6 * mm),
                _p(t["seal"].format(sender=doc.sender.legal_name)),
                Spacer(1, 10 * mm),
                _p(f"{t['seal_line']}: ________________________    {doc.issue_date}", "small"),
            ]
        )
    ]


def write_statement(doc, path: Path) -> Path:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer

    t = doc.text
    story = _heading(doc, t["statement"], doc.number)
    for b in books(doc):
        ccy = b["currency"]
        story.append(_p(f"{t['ledger']} · {ccy}", "h2"))
        rows = [
            [t["date"], t["type"], t["your_ref"], t["our_ref"], t["detail"]]
            + [t["debit"], t["credit"], t["balance"]],
            ["", t["opening"], "", "", "", "", "", b["opening"]],
        ]
        widths = [16, 16, 34, 20, 28, 20, 20, 22]  # mm; balances of 100 million fit
        for r in b["lines"]:
            rows.append(
                [
                    r["date"],
                    r["kind"],
                    _cell(r["reference"], widths[2]),
                    r["ours"],
                    _cell(r["detail"], widths[4]),
                    r["debit"],
                    r["credit"],
                    r["balance"],
                ]  # fmt: skip
            )
        rows.append(["", t["closing"], "", "", "", "", "", b["closing"]])
        table = _table(
            rows, [w * mm for w in widths], numeric=(5, 6, 7), bold_rows=(1, len(rows) - 1)
        )
        table.setStyle([("SPAN", (1, 1), (6, 1)), ("SPAN", (1, -1), (6, -1))])
        story.append(table)
        story.append(_p(f"{t['open_items']} · {ccy}", "h2"))
        if b["invoices"]:
            widths = [24, 20, 20, 40, 26, 20, 26]
            rows = [[t["invoice"], t["invoice_date"], t["due_date"], t["your_ref"]]]
            rows[0] += [t["open"], t["days"], t["note"]]
            for r in b["invoices"]:
                rows.append(
                    [
                        r["invoice_id"],
                        r["invoice_date"],
                        r["due_date"],
                        _cell(r["reference"], widths[3]),
                        r["amount"],
                        str(r["days"]) if r["days"] > 0 else "",
                        t["under_dispute"] if r["disputed"] else "",
                    ]  # fmt: skip
                )
            story.append(_table(rows, [w * mm for w in widths], numeric=(4, 5)))
        else:
            story.append(_p(t["none"]))
        story.append(Spacer(1, 2 * mm))
        aging = [[t["aging"], *[label for label, _ in b["aging"]]]]
        aging.append([ccy, *[amount for _, amount in b["aging"]]])
        width = 150 / len(b["aging"])
        story.append(
            _table(
                aging,
                [26 * mm, *[width * mm] * len(b["aging"])],
                numeric=range(1, 1 + len(b["aging"])),
            )
        )
        if b["cash"]:
            story.append(_p(f"{t['unapplied']} · {ccy}", "h2"))
            rows = [[t["date"], t["your_ref"], t["our_ref"], t["unapplied_amount"]]]
            rows += [
                [r["value_date"], _cell(r["reference"], 86), r["receipt_id"], r["amount"]]
                for r in b["cash"]
            ]
            story.append(_table(rows, [20 * mm, 86 * mm, 35 * mm, 35 * mm], numeric=(3,)))
        story.append(Spacer(1, 2 * mm))
        summary = [[label, f"{ccy} {amount}"] for label, amount in b["summary"]]
        table = _table(summary, [60 * mm, 45 * mm], header=False, numeric=(1,))
        table.setStyle([("FONTSIZE", (0, -1), (-1, -1), 9), ("FONTNAME", (0, 0), (-1, -1), font())])
        story.append(KeepTogether([table]))
    story.append(Spacer(1, 3 * mm))
    if doc.sender.bank:
        story.append(_p(f"{t['pay_to']}: {doc.sender.bank}"))
    story.append(_p(t["confirm"].format(days=doc.reply_days)))
    story += _seal(doc)
    story.append(KeepTogether(_reply_slip(doc)))
    return _build(doc, path, doc.number, story)


def _reply_slip(doc) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    t = doc.text
    balances = ", ".join(f"{b.currency} {_money(b.closing)}" for b in doc.ledgers)
    rows = [[t["reply_item"], t["reply_ours"], t["reply_theirs"], t["reply_remark"]]]
    rows += [["", "", "", ""] for _ in range(4)]
    table = _table(rows, [50 * mm, 32 * mm, 32 * mm, 60 * mm], heights=[13] + [7 * mm] * 4)
    return [
        Spacer(1, 8 * mm),
        _p("- " * 60, "small"),
        _p(f"{t['reply']}  ({doc.number})", "h2"),
        _p(t["reply_to"].format(sender=doc.sender.legal_name)),
        _p(t["reply_intro"].format(number=doc.number, as_of=doc.issue_date) + " " + balances),
        Spacer(1, 2 * mm),
        _p("□ " + t["reply_ok"]),
        _p("□ " + t["reply_not_ok"]),
        table,
        Spacer(1, 8 * mm),
        _p(
            t["reply_sign"].format(customer=doc.name)
            + ": ________________________    "
            + f"{t['reply_date']}: ____________"
        ),
    ]


def _money(amount) -> str:
    from arlib.money import fmt_money

    return fmt_money(amount)


def write_letter(doc, path: Path) -> Path:
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    t = doc.text
    story = _heading(doc, t[f"letter_{doc.level}"], doc.letter_number)
    story.append(Spacer(1, 4 * mm))
    story += [_p(paragraph, "letter") for paragraph in doc.letter]
    story += _seal(doc)
    story.append(Spacer(1, 4 * mm))
    story.append(_p(t["enclosure"].format(number=doc.number), "small"))
    return _build(doc, path, doc.letter_number, story)
