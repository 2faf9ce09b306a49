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
refused whatever the encoding (no entity is ever expanded, so nothing external or
exponential can be read; see :mod:`arlib.bankfiles.xmlsafe`).

The parser is linear in the file size whatever it holds: comments and CDATA are found with
one forward ``find`` each (an unterminated one stops the search for good rather than
rescanning to the end from every later ``<!--``), a tag that never closes (``<NAME`` with
no ``>``) ends at the next ``<``, names are matched possessively, and closing tags look up
the open elements in a count rather than scanning the stack. An element never contains
itself (no OFX aggregate does), so an SGML aggregate left open (``<STMTTRN>`` twice) is
closed by the next one of the same name instead of nesting; nesting deeper than
:data:`MAX_DEPTH` is refused with a finding.

Amounts are exact (see :func:`arlib.bankfiles.common.amount_refusal`): a ``TRNAMT`` with
more decimals than ``CURDEF`` allows, or too large, is an error finding naming its line and
the text as written, and the transaction is not loaded; such a ``BALAMT`` is not used.

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
from arlib.bankfiles import xmlsafe
from arlib.bankfiles.common import Entry, Statement, check_amount, clean, decode, to_decimal, ymd
from arlib.findings import Finding

MAX_DEPTH = 64
"""Elements nested deeper than this are refused (real OFX nests about ten deep)."""

# possessive (``++``, ``*+``): no backtracking, and a tag without ``>`` ends at the next ``<``
_TOKEN = re.compile(r"<(/?)([A-Za-z0-9_.]++)[^<>]*+>|([^<]+)|(<)")
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


@dataclass(slots=True)
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
        """Descendants named ``tag`` in document order (iterative: no recursion limit)."""
        stack = list(reversed(self.children))
        while stack:
            c = stack.pop()
            if c.tag == tag:
                yield c
            stack.extend(reversed(c.children))


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _unmark(body: str) -> str:
    """Comments dropped (their newlines kept, so lines still count right) and CDATA turned
    into escaped text, in one forward pass. An unterminated ``<!--`` or ``<![CDATA[`` is
    left as it is; once a terminator is missing from some point on, it is never searched
    for again, so hostile input costs one scan, not one per opener."""
    out: list[str] = []
    pos = 0
    dead = {"-->": len(body) + 1, "]]>": len(body) + 1}  # no terminator at or after this
    while True:
        i = body.find("<!", pos)
        if i < 0:
            break
        if body.startswith("<!--", i):
            opener, end = 4, "-->"
        elif body.startswith("<![CDATA[", i):
            opener, end = 9, "]]>"
        else:
            out.append(body[pos : i + 2])
            pos = i + 2
            continue
        j = body.find(end, i + opener) if i + opener < dead[end] else -1
        if j < 0:
            dead[end] = min(dead[end], i + opener)
            out.append(body[pos : i + 2])
            pos = i + 2
            continue
        out.append(body[pos:i])
        inner = body[i + opener : j]
        out.append("\n" * inner.count("\n") if end == "-->" else html.escape(inner))
        pos = j + len(end)
    out.append(body[pos:])
    return "".join(out)


def _tokens(body: str, first_line: int):
    """``(is_close, tag, text, line)`` per token: a tag (``tag`` upper-cased), a text run
    (``text``) or a stray ``<`` (both None)."""
    line = first_line
    for m in _TOKEN.finditer(body):
        close, name, text = m[1], m[2], m[3]
        yield bool(close), (name.upper() if name is not None else None), text, line
        line += m[0].count("\n")


def _tree(body: str, offset_line: int) -> _Node:
    toks = _tokens(_unmark(body), offset_line)
    pending: list[tuple] = []  # one token of look-ahead pushed back

    def nxt():
        return pending.pop() if pending else next(toks, None)

    root = _Node("#root", offset_line)
    stack = [root]
    open_count: dict[str, int] = {}

    def pop_to(tag: str) -> None:  # close up to and including the open ``tag``
        while True:
            node = stack.pop()
            open_count[node.tag] -= 1
            if node.tag == tag:
                return

    while (tok := nxt()) is not None:
        close, tag, _, ln = tok
        if tag is None:
            continue
        if close:
            if open_count.get(tag):
                pop_to(tag)
            continue
        after = nxt()
        if after is not None and after[1] is None and after[2] is not None and not after[2].strip():
            after = nxt()  # whitespace
        if open_count.get(tag):
            pop_to(tag)  # an element never contains itself: an open one ends here
        node = _Node(tag, ln)
        stack[-1].children.append(node)
        if after is not None and after[2] is not None:  # text follows: a leaf
            node.text = html.unescape(after[2])
            closing = nxt()
            if closing is not None and not (closing[0] and closing[1] == tag):
                pending.append(closing)
        elif after is not None and after[0] and after[1] == tag:  # <X></X>
            node.text = ""
        else:
            if after is not None:
                pending.append(after)
            if tag in _LEAVES:
                node.text = ""
            else:
                if len(stack) > MAX_DEPTH:
                    raise _TooDeep(ln)
                stack.append(node)
                open_count[tag] = open_count.get(tag, 0) + 1
    return root


def parse(data: bytes, path: Path, *, encoding: str | None = None):
    found: list[Finding] = []
    refused = xmlsafe.refusal(data, path)  # OFX 2 is XML: a DTD in any encoding
    if refused is not None:
        return [], [refused]
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
    try:
        root = _tree(text[start.start() :], first_line)
    except _TooDeep as deep:
        found.append(
            fnd.error(
                path,
                deep.line,
                None,
                None,
                "ofx_too_deep",
                f"elements nest more than {MAX_DEPTH} deep (tags never closed?); not read",
            )
        )
        return [], found
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
        bad = None
        if bal is not None and closing is not None:
            node = bal.find("BALAMT")
            bad = check_amount(
                closing,
                currency,
                file=path,
                row=node.line if node else bal.line,
                column="LEDGERBAL/BALAMT",
                raw=bal.get("BALAMT"),
                what="ledger balance",
            )
            if bad is not None:
                found.append(bad)
                closing = None
        if closing is None and bad is None:
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
            amt_node = tx.find("TRNAMT")
            bad = check_amount(
                amt,
                currency or line_ccy,
                file=path,
                row=amt_node.line if amt_node else tx.line,
                column="TRNAMT",
                raw=raw_amt,
            )
            if bad is not None:
                found.append(bad)
                continue
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
