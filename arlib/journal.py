"""Proposed balancing adjustments (调平): the journal entries that bring the ledger in line
with what matching cleared.

Why proposals and not postings: bank charges, discounts, FX differences and small rounding
differences were written off against invoices by matching rules; the general ledger only
agrees with the AR subledger once matching journal entries are posted, and a person must
approve them. Each entry is two lines (debit = credit, checked), in base currency, linked
to the exception or allocation it clears, with accounts taken from the params.

What is proposed:

- tolerance allocations (bank_charge, discount, fx_difference, write_off; rounding up to
  the write-off threshold) whose exception is ``cleared`` (``open`` ones wait for review
  unless ``include_open``);
- open ``rounding`` exceptions (small residuals) up to the write-off threshold;
- the change in the expected-credit-loss provision: closing − opening (the matrix gives
  the balance the allowance should have; the ledger already holds the opening one).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import polars as pl
from pydantic import Field

from arlib.aging import to_base
from arlib.money import fmt_money
from arlib.paramtypes import Exact, Flag, Range, Section, Text
from arlib.provision import ProvisionResult
from arlib.schema import MONEY

LINE_COLUMNS = {
    "journal_id": pl.String,
    "line": pl.Int64,
    "account": pl.String,
    "account_name": pl.String,
    "debit": MONEY,
    "credit": MONEY,
    "currency": pl.String,
    "customer_id": pl.String,
    "reference": pl.String,
    "description": pl.String,
    # True when matching already wrote the amount off in the sub-ledger (tolerance
    # allocations): the GL differs from the sub-ledger by it until the entry is booked, so
    # the GL tie-out counts it as explained. False for write-offs of residuals still open
    # in both ledgers, and for the provision.
    "in_subledger": pl.Boolean,
}

ZERO = Decimal("0.00")


class JournalConfig(Section):
    """``adjustments:`` section of the params (account codes default to 中国企业会计准则)."""

    ar_account: Text = Field("1122", description="the receivable control account (应收账款)")
    ar_account_name: Text = Field("应收账款", description="the name of ar_account")
    bank_charge_account: Text = Field("6603", description="bank charges (财务费用-手续费)")
    bank_charge_account_name: Text = Field(
        "财务费用-手续费", description="the name of bank_charge_account"
    )
    discount_account: Text = Field("6603.02", description="cash discounts allowed (现金折扣)")
    discount_account_name: Text = Field("现金折扣", description="the name of discount_account")
    fx_account: Text = Field("6603.03", description="FX differences (汇兑损益)")
    fx_account_name: Text = Field("汇兑损益", description="the name of fx_account")
    write_off_account: Text = Field(
        "6711", description="small short payments written off (营业外支出)"
    )
    write_off_account_name: Text = Field("营业外支出", description="the name of write_off_account")
    write_off_gain_account: Text = Field(
        "6301", description="small over-receipts taken to income (营业外收入)"
    )
    write_off_gain_account_name: Text = Field(
        "营业外收入", description="the name of write_off_gain_account"
    )
    unapplied_cash_account: Text = Field(
        "2203", description="where unapplied cash is held (预收账款)"
    )
    unapplied_cash_account_name: Text = Field(
        "预收账款", description="the name of unapplied_cash_account"
    )
    impairment_account: Text = Field(
        "6702", description="the ECL provision movement's expense (信用减值损失)"
    )
    impairment_account_name: Text = Field(
        "信用减值损失", description="the name of impairment_account"
    )
    allowance_account: Text = Field("1231", description="the ECL allowance (坏账准备)")
    allowance_account_name: Text = Field("坏账准备", description="the name of allowance_account")
    write_off_threshold: Annotated[Exact, Range(ge=0)] = Field(
        Decimal("10.00"),
        description="largest rounding difference (base currency) proposed for write-off",
    )
    include_open: Flag = Field(
        False,
        description="also propose tolerance allocations whose exception is still open (over "
        "tolerance / outside terms)",
    )
    journal_prefix: Text = Field("ADJ", description="journal ids are <prefix>-<period>-NNN")

    def account(self, role: str) -> tuple[str, str]:
        return getattr(self, f"{role}_account"), getattr(self, f"{role}_account_name")


# allocation kind -> (account role, exception types that clear it, description)
_KINDS = {
    "bank_charge": ("bank_charge", ("bank_charge", "bank_charge_over_tolerance"), "bank charge"),
    "discount": ("discount", ("discount", "discount_outside_terms"), "cash discount allowed"),
    "fx_difference": ("fx", ("fx_difference",), "FX difference"),
    "rounding": ("write_off", ("rounding",), "rounding difference written off"),
    "write_off": ("write_off", ("write_off",), "short payment written off (payment tolerance)"),
}


def propose_adjustments(
    allocations: pl.DataFrame,
    exceptions: pl.DataFrame,
    *,
    period: str,
    as_of: dt.date,
    base_currency: str = "CNY",
    fx_rates: pl.DataFrame | None = None,
    config: JournalConfig | None = None,
    provision: ProvisionResult | None = None,
) -> pl.DataFrame:
    """Balanced journal proposal lines (see :data:`LINE_COLUMNS`).

    ``provision`` proposes its movement (closing − opening), never its closing balance.

    Foreign amounts are converted at the as-of rate; items without a rate are left out
    (the aging reports the missing rate). Raises ``AssertionError`` if unbalanced.
    """
    config = config or JournalConfig()
    ex_by_key: dict[tuple, dict] = {}
    for row in exceptions.to_dicts():
        ex_by_key.setdefault((row["type"], row["receipt_id"], row["invoice_id"]), row)

    items: list[dict] = []  # one per journal entry, amount > 0 debits the role's account
    tol = allocations.filter(pl.col("kind").is_in(list(_KINDS)))
    tol = to_base(
        tol, "applied_amount", base_currency=base_currency, fx_rates=fx_rates, as_of=as_of
    )
    rounding_pairs = set()
    for a in tol.sort("kind", "receipt_id", "invoice_id").to_dicts():
        role, types, label = _KINDS[a["kind"]]
        key_types = [t for t in types if (t, a["receipt_id"], a["invoice_id"]) in ex_by_key]
        ex = ex_by_key[(key_types[0], a["receipt_id"], a["invoice_id"])] if key_types else None
        if a["kind"] == "rounding":
            rounding_pairs.add((a["receipt_id"], a["invoice_id"]))
        if a["amount_base"] is None or a["amount_base"] == 0:
            continue
        if ex is not None and ex["status"] == "open" and not config.include_open:
            continue
        if a["kind"] == "rounding" and abs(a["amount_base"]) > config.write_off_threshold:
            continue
        items.append(
            {
                "order": (0, a["kind"]),
                "in_subledger": True,
                "role": role,
                "counter": "ar",
                "amount": a["amount_base"],
                "customer_id": a.get("customer_id"),
                "reference": ex["exception_id"] if ex else f"{a['receipt_id']}|{a['invoice_id']}",
                "description": f"{label}: receipt {a['receipt_id']} on invoice "
                f"{a['invoice_id']} ({fmt_money(a['applied_amount'])} {a['currency']})",
            }
        )

    small = exceptions.filter(
        (pl.col("type") == "rounding") & (pl.col("status") == "open") & (pl.col("amount") != 0)
    )
    small = to_base(small, "amount", base_currency=base_currency, fx_rates=fx_rates, as_of=as_of)
    for e in small.sort("exception_id").to_dicts():
        if (e["receipt_id"], e["invoice_id"]) in rounding_pairs or e["amount_base"] is None:
            continue
        if abs(e["amount_base"]) > config.write_off_threshold:
            continue
        over_receipt = e["invoice_id"] is None
        items.append(
            {
                "order": (1, e["exception_id"]),
                "in_subledger": False,
                "role": "unapplied_cash" if over_receipt else "write_off",
                "counter": "write_off_gain" if over_receipt else "ar",
                "amount": e["amount_base"],
                "customer_id": e["customer_id"],
                "reference": e["exception_id"],
                "description": (
                    f"small over-receipt on {e['receipt_id']} taken to income"
                    if over_receipt
                    else f"small short payment on invoice {e['invoice_id']} written off"
                )
                + f" ({fmt_money(e['amount'])} {e['currency']})",
            }
        )

    if provision is not None and provision.movement:
        movement = provision.movement
        items.append(
            {
                "order": (2, ""),
                "in_subledger": False,
                "role": "impairment",
                "counter": "allowance",
                "amount": movement,
                "customer_id": None,
                "reference": f"ECL {period}",
                "description": "expected credit loss (IFRS 9 matrix): closing "
                f"{fmt_money(provision.total_provision)} − opening "
                f"{fmt_money(provision.opening_provision)} = "
                f"{'charge' if movement > 0 else 'release'} {fmt_money(abs(movement))}",
            }
        )

    rows = []
    for n, item in enumerate(sorted(items, key=lambda i: i["order"]), start=1):
        jid = f"{config.journal_prefix}-{period}-{n:03d}"
        amount = item["amount"]
        dr, cr = (item["role"], item["counter"]) if amount > 0 else (item["counter"], item["role"])
        for line, (role, debit, credit) in enumerate(
            ((dr, abs(amount), ZERO), (cr, ZERO, abs(amount))), start=1
        ):
            account, name = config.account(role)
            rows.append(
                {
                    "journal_id": jid,
                    "line": line,
                    "account": account,
                    "account_name": name,
                    "debit": debit,
                    "credit": credit,
                    "currency": base_currency,
                    "customer_id": item["customer_id"],
                    "reference": item["reference"],
                    "description": item["description"],
                    "in_subledger": item["in_subledger"],
                }
            )
    lines = pl.DataFrame(rows, schema=LINE_COLUMNS)
    check_balanced(lines)
    return lines


def check_balanced(lines: pl.DataFrame) -> None:
    """Raise ``AssertionError`` unless every journal (and the whole proposal) balances."""
    per = lines.group_by("journal_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    bad = per.filter(pl.col("debit") != pl.col("credit"))
    if bad.height:
        raise AssertionError(f"unbalanced journals: {bad['journal_id'].to_list()}")
    if lines["debit"].sum() != lines["credit"].sum():
        raise AssertionError("journal proposal does not balance")
