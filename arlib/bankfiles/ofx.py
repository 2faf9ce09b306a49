"""OFX 1.x (SGML) and 2.x (XML) bank and credit-card statement reader, with a small
tolerant parser written here rather than ``ofxtools``.

Why not ofxtools: it validates against the OFX specification and raises on the first
deviation, and real bank downloads deviate all the time (empty ``<CURDEF>``, empty
``<BALAMT>``, proprietary elements such as ``<VALUEDATE>``/``<CATEGORY>``, amounts with a
currency sign); one bad transaction would lose the whole file and the exception carries no
line number. An audit tool needs the opposite: read what can be read, and report each
problem with its line. OFX is simple enough for that: tags are tokenised, an element
followed by text is a leaf whose closing tag is optional (SGML), everything else is an
aggregate. Comments are dropped, CDATA is kept as text, and a DOCTYPE/ENTITY declaration is
refused (no entity is ever expanded, so nothing external or exponential can be read).

OFX has no opening balance: ``opening_balance`` is derived from the ledger balance
(``LEDGERBAL``) minus the lines, so ``balanced`` is null, but the derived opening still
feeds the gap check between consecutive downloads of one account.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from arlib import findings as fnd
from arlib.bankfiles.common import Entry, Statement, clean, decode, to_decimal, ymd
from arlib.findings import Finding

_TOKEN = re.compile(r"<(/?)([A-Za-z0-9_.]+)[^>]*>|([^<]+)|(<)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Elements that are leaves even when an SGML file leaves them empty without a closing tag.
_LEAVES = {
    "CURDEF",
    "BANKID",
    "BRANCHID",
    "ACCTID",
    "ACCTTYPE",
    "NAME",
    "MEMO",
    "FITID",
    "TRNAMT",
    "DTPOSTED",
    "DTUSER",
    "DTAVAIL",
    "TRNTYPE",
    "CHECKNUM",
    "REFNUM",
    "BALAMT",
    "DTASOF",
    "DTSTART",
    "DTEND",
    "CODE",
    "SEVERITY",
    "MESSAGE",
    "LANGUAGE",
    "DTSERVER",
    "TRNUID",
    "CURSYM",
    "CURRATE",
    "SIC",
    "PAYEEID",
    "CORRECTFITID",
    "SRVRTID",
}


@dataclass
class _Node:
    tag: str
    line: int
    text: str | None = None
    children: list[_Node] = field(default_factory=list)

    def find(self, *path: str) -> _Node | None:
        node: _Node | None = self
        for tag in path:
            node = next((c for c in node.children if c.tag == tag), None) if node else None
        return node

    def get(self, *path: str) -> str | None:
        node = self.find(*path)
        return None if node is None else clean(node.text)

    def iter(self, tag: str):
        for c in self.children:
            if c.tag == tag:
                yield c
            yield from c.iter(tag)


def _blank(m: re.Match) -> str:
    return "\n" * m[0].count("\n")  # keep line numbers


def _tree(body: str, offset_line: int) -> _Node:
    body = _COMMENT.sub(_blank, body)
    body = _CDATA.sub(lambda m: html.escape(m[1]), body)
    toks = []
    line = offset_line
    for m in _TOKEN.finditer(body):
        toks.append((m, line))
        line += m[0].count("\n")
    root = _Node("#root", offset_line)
    stack = [root]
    i = 0
    while i < len(toks):
        m, ln = toks[i]
        i += 1
        if m[2] is None:
            continue
        tag = m[2].upper()
        if m[1]:  # closing tag
            if any(n.tag == tag for n in stack[1:]):
                while stack[-1].tag != tag:
                    stack.pop()
                stack.pop()
            continue
        j = i
        while j < len(toks) and toks[j][0][3] is not None and not toks[j][0][3].strip():
            j += 1  # whitespace
        nxt = toks[j][0] if j < len(toks) else None
        node = _Node(tag, ln)
        stack[-1].children.append(node)
        if nxt is not None and nxt[3] is not None:  # text follows: a leaf
            node.text = html.unescape(nxt[3])
            i = j + 1
            if i < len(toks) and toks[i][0][1] and toks[i][0][2].upper() == tag:
                i += 1
        elif nxt is not None and nxt[1] and nxt[2].upper() == tag:  # <X></X>
            node.text = ""
            i = j + 1
        elif tag in _LEAVES:
            node.text = ""
        else:
            stack.append(node)
    return root


def parse(data: bytes, path: Path, *, encoding: str | None = None):
    found: list[Finding] = []
    text = decode(data, path, found, encoding=encoding, fallback="cp1252")
    m = _DTD.search(text)
    if m:
        found.append(
            fnd.error(
                path,
                text.count("\n", 0, m.start()) + 1,
                None,
                m[0],
                "xml_dtd_refused",
                "OFX with a DOCTYPE/ENTITY declaration is refused; not read",
            )
        )
        return [], found
    start = re.search(r"<OFX>", text, re.IGNORECASE)
    if not start:
        found.append(fnd.error(path, None, None, None, "ofx_no_body", "no <OFX> element"))
        return [], found
    first_line = text.count("\n", 0, start.start()) + 1
    root = _tree(text[start.start() :], first_line)
    for status in root.iter("STATUS"):
        code = status.get("CODE")
        if code not in (None, "0"):
            found.append(
                fnd.error(
                    path,
                    status.line,
                    "STATUS",
                    code,
                    "ofx_server_error",
                    f"the bank reported status {code} {status.get('SEVERITY') or ''}: "
                    f"{status.get('MESSAGE') or 'no message'}",
                )
            )
    stmts: list[Statement] = []
    rs_nodes = [*root.iter("STMTRS"), *root.iter("CCSTMTRS")]
    rs_nodes.sort(key=lambda n: n.line)
    for rs in rs_nodes:
        acct_node = rs.find("BANKACCTFROM") or rs.find("CCACCTFROM")
        currency = rs.get("CURDEF")
        if acct_node is None or not acct_node.get("ACCTID"):
            found.append(
                fnd.error(
                    path,
                    rs.line,
                    "BANKACCTFROM",
                    None,
                    "ofx_no_account",
                    "statement has no account (BANKACCTFROM/CCACCTFROM ACCTID)",
                )
            )
        if not currency:
            found.append(
                fnd.error(
                    path,
                    rs.line,
                    "CURDEF",
                    None,
                    "ofx_no_currency",
                    "statement currency (CURDEF) is missing or empty",
                )
            )
        account = None
        if acct_node is not None:
            account = (
                " ".join(
                    p
                    for p in (
                        acct_node.get("BANKID"),
                        acct_node.get("BRANCHID"),
                        acct_node.get("ACCTID"),
                    )
                    if p
                )
                or None
            )
        bal = rs.find("LEDGERBAL")
        closing = to_decimal(bal.get("BALAMT")) if bal is not None else None
        if closing is None:
            found.append(
                fnd.warning(
                    path,
                    bal.line if bal else rs.line,
                    "LEDGERBAL",
                    None,
                    "ofx_no_balance",
                    "no ledger balance: the statement cannot be checked",
                )
            )
        st = Statement(
            account=account,
            statement_id=None,
            currency=currency,
            opening=None,
            closing=closing,
            source_row=rs.line,
            opening_derived=True,
        )
        for tl in rs.iter("BANKTRANLIST"):
            st.period_start = st.period_start or ymd(tl.get("DTSTART"))
            st.period_end = ymd(tl.get("DTEND")) or st.period_end
        if bal is not None and ymd(bal.get("DTASOF")):
            st.period_end = st.period_end or ymd(bal.get("DTASOF"))
        for tx in rs.iter("STMTTRN"):
            raw_amt = tx.get("TRNAMT")
            amt = to_decimal(raw_amt)
            posted = ymd(tx.get("DTPOSTED"))
            if amt is None or posted is None:
                what = "TRNAMT" if amt is None else "DTPOSTED"
                found.append(
                    fnd.error(
                        path,
                        tx.line,
                        what,
                        raw_amt if amt is None else tx.get("DTPOSTED"),
                        "ofx_bad_transaction",
                        f"transaction has a missing or invalid {what}; not loaded",
                    )
                )
                continue
            fitid = tx.get("FITID")
            line_ccy = tx.get("CURRENCY", "CURSYM") or tx.get("ORIGCURRENCY", "CURSYM")
            st.entries.append(
                Entry(
                    amount=amt,
                    value_date=ymd(tx.get("DTAVAIL")) or ymd(tx.get("DTUSER")) or posted,
                    booking_date=posted,
                    source_row=tx.line,
                    currency=currency or line_ccy,
                    payer_name=tx.get("NAME") or tx.get("PAYEE", "NAME"),
                    payer_account=tx.get("BANKACCTTO", "ACCTID") or tx.get("CCACCTTO", "ACCTID"),
                    memo=tx.get("MEMO"),
                    bank_ref=tx.get("REFNUM") or tx.get("CHECKNUM") or fitid,
                    entry_id=fitid,
                )
            )
        stmts.append(st)
    if not rs_nodes and not any(f.severity == "error" for f in found):
        found.append(
            fnd.warning(
                path,
                first_line,
                None,
                None,
                "ofx_no_statement",
                "OFX file holds no bank or credit-card statement",
            )
        )
    return stmts, found
