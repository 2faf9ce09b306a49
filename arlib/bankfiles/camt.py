"""ISO 20022 CAMT.053 (statement), CAMT.054 (debit/credit notification) and CAMT.052 reader.

Parsed with lxml under a locked-down parser (no DTD loading, no entity resolution, no
network, no huge trees); on top of that any ``<!DOCTYPE`` or ``<!ENTITY`` is refused
outright with a finding, because a bank never needs one and it is the vehicle for XXE and
billion-laughs attacks. Element lookups ignore namespaces (``{*}``) so every schema version
(.001.02 to .001.13) reads the same.

An entry (``Ntry``) whose ``TxDtls`` each carry an amount (a batch) becomes one line per
transaction, provided they add up to the entry amount; otherwise the entry is one line.
source_row is the entry's ordinal in the file (1-based); findings name the XPath-ish
position (``Stmt[1]/Ntry[3]``) in their column.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from lxml import etree

from arlib import findings as fnd
from arlib.bankfiles.common import Entry, Statement, clean, join_text, to_decimal, ymd
from arlib.findings import Finding

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_OPENING = ("OPBD", "PRCD", "OPAV", "ITBD")
_CLOSING = ("CLBD", "CLAV")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _t(el, path: str) -> str | None:
    """Text of the first match of a namespace-agnostic path such as ``Refs/EndToEndId``."""
    if el is None:
        return None
    found = el.find("/".join(f"{{*}}{p}" for p in path.split("/")))
    return None if found is None else clean(found.text)


def _all(el, path: str) -> list:
    return [] if el is None else el.findall("/".join(f"{{*}}{p}" for p in path.split("/")))


def _date(el, path: str):
    node = el.find("/".join(f"{{*}}{p}" for p in path.split("/")))
    if node is None:
        return None
    return ymd(_t(node, "Dt") or _t(node, "DtTm") or clean(node.text))


def _acct(el) -> str | None:
    return _t(el, "Id/IBAN") or _t(el, "Id/Othr/Id")


def _party(el, role: str) -> tuple[str | None, str | None]:
    """(name, account) of ``Dbtr``/``Cdtr`` in RltdPties, old (Nm) or v08+ (Pty/Nm) style."""
    rp = el.find("{*}RltdPties")
    if rp is None:
        return None, None
    name = _t(rp, f"{role}/Nm") or _t(rp, f"{role}/Pty/Nm") or _t(rp, f"Ultmt{role}/Nm")
    acct = _acct(rp.find(f"{{*}}{role}Acct"))
    return name, acct


def _amount(el) -> tuple[Decimal | None, str | None]:
    node = el.find("{*}Amt")
    if node is None:
        node = el.find("{*}AmtDtls/{*}TxAmt/{*}Amt")
    if node is None:
        return None, None
    return to_decimal(node.text), node.get("Ccy")


def _remittance(tx) -> str | None:
    ustrd = [clean(u.text) for u in _all(tx, "RmtInf/Ustrd")]
    refs = [clean(r.text) for r in _all(tx, "RmtInf/Strd/CdtrRefInf/Ref")]
    return join_text([*ustrd, *refs, _t(tx, "AddtlTxInf")])


def parse(data: bytes, path: Path) -> tuple[list[Statement], list[Finding]]:
    found: list[Finding] = []
    m = _DTD.search(data)
    if m:
        line = data.count(b"\n", 0, m.start()) + 1
        found.append(
            fnd.error(
                path,
                line,
                None,
                m[0].decode("ascii", "replace"),
                "xml_dtd_refused",
                "XML with a DOCTYPE/ENTITY declaration is refused (external entities and "
                "entity expansion are not allowed in bank files); not read",
            )
        )
        return [], found
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        found.append(
            fnd.error(path, line, None, None, "xml_malformed", f"not well-formed XML: {exc.msg}")
        )
        return [], found
    containers = [el for tag in ("Stmt", "Ntfctn", "Rpt") for el in root.iter(f"{{*}}{tag}")]
    if not containers:
        found.append(
            fnd.error(
                path,
                None,
                None,
                etree.QName(root).localname,
                "camt_no_statement",
                "XML has no CAMT Stmt/Ntfctn/Rpt element: not a CAMT.053/054 file",
            )
        )
        return [], found
    stmts: list[Statement] = []
    ordinal = 0
    for k, st_el in enumerate(containers, start=1):
        kind = etree.QName(st_el).localname
        acct_el = st_el.find("{*}Acct")
        opening = closing = None
        currency = _t(acct_el, "Ccy")
        for bal in _all(st_el, "Bal"):
            code = _t(bal, "Tp/CdOrPrtry/Cd") or _t(bal, "Tp/CdOrPrtry/Prtry")
            amt, ccy = _amount(bal)
            if amt is not None and _t(bal, "CdtDbtInd") == "DBIT":
                amt = -amt
            currency = currency or ccy
            if code in _OPENING and opening is None:
                opening = amt
            elif code in _CLOSING and closing is None:
                closing = amt
        st = Statement(
            account=_acct(acct_el),
            statement_id=_t(st_el, "Id"),
            currency=currency,
            opening=opening,
            closing=closing,
            source_row=ordinal + 1,
            period_start=ymd(_t(st_el, "FrToDt/FrDtTm") or _t(st_el, "FrToDt/FrDt")),
            period_end=ymd(_t(st_el, "FrToDt/ToDtTm") or _t(st_el, "FrToDt/ToDt")),
        )
        if kind == "Stmt" and (opening is None or closing is None):
            found.append(
                fnd.error(
                    path,
                    st.source_row,
                    f"{kind}[{k}]/Bal",
                    None,
                    "camt_missing_balance",
                    "statement has no opening (OPBD/PRCD) or closing (CLBD) balance",
                )
            )
        for j, ntry in enumerate(_all(st_el, "Ntry"), start=1):
            where = f"{kind}[{k}]/Ntry[{j}]"
            amt, ccy = _amount(ntry)
            ind = _t(ntry, "CdtDbtInd")
            if amt is None or ind not in {"CRDT", "DBIT"}:
                ordinal += 1
                found.append(
                    fnd.error(
                        path,
                        ordinal,
                        where,
                        _t(ntry, "Amt"),
                        "camt_bad_entry",
                        "entry has no valid Amt or CdtDbtInd (CRDT/DBIT); not loaded",
                    )
                )
                continue
            sign = 1 if ind == "CRDT" else -1
            base = {
                "value_date": _date(ntry, "ValDt") or _date(ntry, "BookgDt"),
                "booking_date": _date(ntry, "BookgDt"),
                "currency": ccy or currency,
                "entry_ref": _t(ntry, "AcctSvcrRef") or _t(ntry, "NtryRef"),
                "addtl": _t(ntry, "AddtlNtryInf"),
            }
            txs = _all(ntry, "NtryDtls/TxDtls")
            split = len(txs) > 1 and all(_amount(t)[0] is not None for t in txs)
            if split:
                total = sum((_amount(t)[0] for t in txs), Decimal(0))
                if total != amt:
                    found.append(
                        fnd.warning(
                            path,
                            ordinal + 1,
                            where,
                            str(amt),
                            "camt_batch_mismatch",
                            f"TxDtls add up to {total}, not the entry amount {amt}; "
                            "kept as one line",
                        )
                    )
                    split = False
            parts = txs if split else [txs[0] if txs else None]
            for tx in parts:
                ordinal += 1
                if split:
                    t_amt, t_ccy = _amount(tx)
                    t_ind = _t(tx, "CdtDbtInd") or ind
                    t_sign = 1 if t_ind == "CRDT" else -1
                else:
                    t_amt, t_ccy, t_sign = amt, None, sign
                role = "Dbtr" if t_sign > 0 else "Cdtr"
                name, acct = _party(tx, role) if tx is not None else (None, None)
                e2e = _t(tx, "Refs/EndToEndId")
                if e2e == "NOTPROVIDED":
                    e2e = None
                ref = _t(tx, "Refs/AcctSvcrRef") or base["entry_ref"]
                memo = _remittance(tx) if tx is not None else None
                st.entries.append(
                    Entry(
                        amount=t_sign * t_amt,
                        value_date=base["value_date"],
                        booking_date=base["booking_date"],
                        source_row=ordinal,
                        currency=t_ccy or base["currency"],
                        payer_name=name,
                        payer_account=acct,
                        memo=memo or base["addtl"],
                        bank_ref=ref,
                        end_to_end_id=e2e,
                        entry_id=ref,
                    )
                )
        if st.currency is None and st.entries:
            st.currency = st.entries[0].currency
        stmts.append(st)
    return stmts, found
