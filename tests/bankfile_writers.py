"""Test-only writers: canonical receipts (credits) rendered as a CAMT.053 or MT940 statement.

Used to show that the same period closes identically whichever format the bank sends. The
receipt_id travels as the bank reference (CAMT ``AcctSvcrRef``, MT940 ``//`` reference,
at most 16 characters there), so read_statement gives the same ids back.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl


def _sorted(receipts: pl.DataFrame) -> list[dict]:
    return receipts.sort("value_date", "receipt_id").to_dicts()


def write_camt053(
    receipts: pl.DataFrame,
    path: Path | str,
    account: str = "CN0000000000000000001",
    opening: Decimal = Decimal("0.00"),
    statement_id: str = "STMT-1",
) -> Path:
    rows = _sorted(receipts)
    ccy = rows[0]["currency"] if rows else "CNY"
    closing = opening + sum((r["amount"] for r in rows), Decimal(0))
    first = rows[0]["value_date"].isoformat() if rows else "2026-01-01"
    last = rows[-1]["value_date"].isoformat() if rows else first

    def bal(code: str, amt: Decimal, day: str) -> str:
        ind = "CRDT" if amt >= 0 else "DBIT"
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="{ccy}">{abs(amt):.2f}</Amt><CdtDbtInd>{ind}</CdtDbtInd>'
            f"<Dt><Dt>{day}</Dt></Dt></Bal>"
        )

    entries = []
    for r in rows:
        day = r["value_date"].isoformat()
        acct = (
            f"<DbtrAcct><Id><Othr><Id>{escape(r['payer_account'])}</Id></Othr></Id></DbtrAcct>"
            if r.get("payer_account")
            else ""
        )
        ustrd = f"<RmtInf><Ustrd>{escape(r['memo'])}</Ustrd></RmtInf>" if r.get("memo") else ""
        e2e = escape(r.get("end_to_end_id") or "NOTPROVIDED")
        entries.append(
            f'<Ntry><Amt Ccy="{r["currency"]}">{r["amount"]:.2f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>{escape(r['receipt_id'])}</AcctSvcrRef><NtryDtls><TxDtls>"
            f"<Refs><AcctSvcrRef>{escape(r['receipt_id'])}</AcctSvcrRef>"
            f"<EndToEndId>{e2e}</EndToEndId></Refs>"
            f"<RltdPties><Dbtr><Nm>{escape(r['payer_name'] or '')}</Nm></Dbtr>{acct}</RltdPties>"
            f"{ustrd}</TxDtls></NtryDtls></Ntry>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{last}T00:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><CreDtTm>{last}T00:00:00</CreDtTm>"
        f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>"
        f"{bal('OPBD', opening, first)}{bal('CLBD', closing, last)}"
        + "\n".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>\n"
    )
    path = Path(path)
    path.write_text(xml, encoding="utf-8")
    return path


def _swift_amount(a: Decimal) -> str:
    return f"{abs(a):.2f}".replace(".", ",")


def _swift_text(s: str | None) -> str:
    return (s or "").replace("\n", " ").replace("/", " ").replace(":", " ")


def write_mt940(
    receipts: pl.DataFrame,
    path: Path | str,
    account: str = "CN0000000000000000001",
    opening: Decimal = Decimal("0.00"),
    statement_no: str = "1/1",
) -> Path:
    rows = _sorted(receipts)
    ccy = rows[0]["currency"] if rows else "CNY"
    closing = opening + sum((r["amount"] for r in rows), Decimal(0))
    first = rows[0]["value_date"] if rows else None
    last = rows[-1]["value_date"] if rows else None
    lines = [":20:ARLIBTEST", f":25:{account}", f":28C:{statement_no}"]
    d_open = first.strftime("%y%m%d") if first else "260101"
    sign_o = "C" if opening >= 0 else "D"
    lines.append(f":60F:{sign_o}{d_open}{ccy}{_swift_amount(opening)}")
    for r in rows:
        d = r["value_date"]
        ref = r["receipt_id"][:16]
        lines.append(f":61:{d:%y%m%d}{d:%m%d}C{_swift_amount(r['amount'])}NTRFNONREF//{ref}")
        details = f"/NAME/{_swift_text(r['payer_name'])}"
        if r.get("payer_account"):
            details += f"/IBAN/{_swift_text(r['payer_account'])}"
        if r.get("end_to_end_id"):
            details += f"/EREF/{_swift_text(r['end_to_end_id'])}"
        details += f"/REMI/{_swift_text(r.get('memo'))}/"
        chunks = _wrap_86(details)
        lines.append(":86:" + chunks[0])
        lines.extend(chunks[1:])
    sign_c = "C" if closing >= 0 else "D"
    d_close = last.strftime("%y%m%d") if last else d_open
    lines.append(f":62F:{sign_c}{d_close}{ccy}{_swift_amount(closing)}")
    lines.append("-")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _wrap_86(text: str, width: int = 65) -> list[str]:
    """Split :86: text into lines of at most ``width`` without a space at either edge
    (readers strip line edges, which would glue words together)."""
    chunks: list[str] = []
    while len(text) > width:
        cut = width
        while cut > 1 and (text[cut - 1] == " " or text[cut] == " "):
            cut -= 1
        chunks.append(text[:cut])
        text = text[cut:]
    chunks.append(text)
    return chunks
