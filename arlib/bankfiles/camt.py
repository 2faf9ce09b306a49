"""ISO 20022 CAMT.053 (statement), CAMT.054 (debit/credit notification) and CAMT.052 reader.

Parsed with lxml under a locked-down parser (no DTD loading, no entity resolution, no
network, no huge trees); on top of that any ``<!DOCTYPE`` or ``<!ENTITY`` is refused
outright with a finding, whatever the file's encoding (UTF-8/16/32 with or without a BOM,
or what its XML declaration names; see :mod:`arlib.bankfiles.xmlsafe`), because a bank
never needs one and it is the vehicle for XXE and billion-laughs attacks. Element lookups
ignore namespaces (``{*}``) so every schema version (.001.02 to .001.13) reads the same.

Amounts are exact: an ``Amt`` with more decimals than its currency allows, or too large
(see :func:`arlib.bankfiles.common.amount_refusal`), is an error finding naming the entry
and the value as written, and the entry is not loaded (a balance is not used); a batch
whose ``TxDtls`` amount is refused is kept as one line at the entry's own amount.

An entry (``Ntry``) whose ``TxDtls`` each carry an amount (a batch) becomes one line per
transaction, provided they add up to the entry amount; otherwise the entry is one line.
source_row is the entry's ordinal in the file (1-based); findings name the XPath-ish
position (``Stmt[1]/Ntry[3]``) in their column.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from lxml import etree

from arlib import findings as fnd
from arlib.bankfiles import xmlsafe
from arlib.bankfiles.common import (
    Entry,
    Statement,
    check_amount,
    clean,
    join_text,
    to_decimal,
    ymd,
)
from arlib.findings import Finding

_OPENING = ("OPBD", "PRCD", "OPAV", "ITBD")
_CLOSING = ("CLBD", "CLAV")


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


def _amount_node(el):
    node = el.find("{*}Amt")
    if node is None:
        node = el.find("{*}AmtDtls/{*}TxAmt/{*}Amt")
    return node


def _amount(el) -> tuple[Decimal | None, str | None]:
    node = _amount_node(el)
    if node is None:
        return None, None
    return to_decimal(node.text), node.get("Ccy")


def _inexact(el, path: Path, row: int, where: str, currency: str | None) -> Finding | None:
    """The finding refusing ``el``'s amount when it is not exact (see ``check_amount``)."""
    node = _amount_node(el)
    if node is None:
        return None
    amt = to_decimal(node.text)
    bad = check_amount(
        amt,
        node.get("Ccy") or currency,
        file=path,
        row=row,
        column=f"{where}/Amt",
        raw=clean(node.text),
    )
    if bad is not None and node.sourceline:
        bad = fnd.error(
            bad.file,
            bad.row,
            bad.column,
            bad.value,
            bad.rule,
            f"{bad.message} (XML line {node.sourceline})",
        )
    return bad


def _remittance(tx) -> str | None:
    ustrd = [clean(u.text) for u in _all(tx, "RmtInf/Ustrd")]
    refs = [clean(r.text) for r in _all(tx, "RmtInf/Strd/CdtrRefInf/Ref")]
    return join_text([*ustrd, *refs, _t(tx, "AddtlTxInf")])


def parse(data: bytes, path: Path) -> tuple[list[Statement], list[Finding]]:
    found: list[Finding] = []
    root, refused = xmlsafe.parse(data, path)
    if root is None:
        return [], refused
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
        taken: set[str] = set()  # "open"/"close" once a balance filled (or was refused) it
        refused: set[str] = set()
        for b, bal in enumerate(_all(st_el, "Bal"), start=1):
            code = _t(bal, "Tp/CdOrPrtry/Cd") or _t(bal, "Tp/CdOrPrtry/Prtry")
            slot = "open" if code in _OPENING else "close" if code in _CLOSING else None
            amt, ccy = _amount(bal)
            bad = _inexact(bal, path, ordinal + 1, f"{kind}[{k}]/Bal[{b}]", currency)
            if bad is not None:  # refused: not used, and no other balance stands in for it
                found.append(bad)
                if slot is not None and slot not in taken:
                    taken.add(slot)
                    refused.add(slot)
                continue
            if amt is not None and _t(bal, "CdtDbtInd") == "DBIT":
                amt = -amt
            currency = currency or ccy
            if slot is None or slot in taken or amt is None:
                continue
            taken.add(slot)
            if slot == "open":
                opening = amt
            else:
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
        missing = (opening is None and "open" not in refused) or (
            closing is None and "close" not in refused
        )
        if kind == "Stmt" and missing:
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
            bad = _inexact(ntry, path, ordinal + 1, where, currency)
            if bad is not None:
                ordinal += 1
                found.append(bad)
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
            for n, tx in enumerate(txs, start=1) if split else ():
                bad = _inexact(tx, path, ordinal + 1, f"{where}/NtryDtls/TxDtls[{n}]", ccy)
                if bad is not None:  # reported; the entry stays one line at its own amount
                    found.append(bad)
                    split = False
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
