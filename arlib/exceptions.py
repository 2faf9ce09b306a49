"""Classify every residual of matching into an exception a person can act on (差异分类).

Why: matching leaves amounts it could not explain (unapplied cash, short-paid invoices,
suggestions awaiting review) and amounts it explained only by a tolerance (bank charges,
discounts, FX and rounding differences, third-party payers). An auditor needs each one
named, with the numbers that prove the name, and a next step. The checks are ordered from
the most specific (a duplicate bank line, a decimal shift) to the generic (short payment,
unidentified receipt), and each is exact: a near miss (1,000.00 vs 1,000.01 is rounding,
not a decimal shift; 1,342 vs 1,234 is not a transposition) falls through to the next.

Every row has a stable ``exception_id`` (a hash of type, receipt and invoice), so a
reviewer's notes and decisions survive reruns of the same close.

Classes and types:

- ``technical_error``: decimal_shift, transposition, rounding, duplicate_bank_line
- ``process_gap``: discount_outside_terms, discount (within terms, not yet cleared),
  tax_difference, bank_charge_over_tolerance, bank_charge (within tolerance),
  fx_difference, third_party_payment, memo_conflict
- ``dispute``: short_payment, disputed_invoice, repeated_late_payment
- ``unapplied_cash``: overpayment, duplicate_payment, unidentified_receipt

Status is ``open`` (needs a person) or ``cleared`` (a tolerance allocation inside its
tolerance: the journal proposal posts it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from arlib.aging import CENT, fmt_money, to_decimal
from arlib.kpis import HISTORY_SCHEMA, payment_history
from arlib.schema import MONEY

CLASS_OF = {
    "decimal_shift": "technical_error",
    "transposition": "technical_error",
    "rounding": "technical_error",
    "duplicate_bank_line": "technical_error",
    "discount_outside_terms": "process_gap",
    "discount": "process_gap",
    "tax_difference": "process_gap",
    "bank_charge_over_tolerance": "process_gap",
    "bank_charge": "process_gap",
    "fx_difference": "process_gap",
    "third_party_payment": "process_gap",
    "memo_conflict": "process_gap",
    "short_payment": "dispute",
    "disputed_invoice": "dispute",
    "repeated_late_payment": "dispute",
    "overpayment": "unapplied_cash",
    "duplicate_payment": "unapplied_cash",
    "unidentified_receipt": "unapplied_cash",
}

DEFAULT_ACTIONS = {
    "decimal_shift": "confirm the intended amount with the customer; refund or collect the "
    "difference",
    "transposition": "confirm the amount with the customer/bank and correct the entry",
    "rounding": "write off under the small-difference threshold",
    "duplicate_bank_line": "check the bank statement import; remove the duplicate line",
    "discount_outside_terms": "reject the discount and collect the balance, or approve an "
    "exception",
    "discount": "post the discount allowed per terms",
    "tax_difference": "check the VAT invoice (发票) was received; collect the tax portion",
    "bank_charge_over_tolerance": "ask the bank/customer for the charge advice; collect or "
    "approve the write-off",
    "bank_charge": "post the bank charge to 财务费用-手续费",
    "fx_difference": "review the rate used; post FX gain/loss",
    "third_party_payment": "obtain the third-party payment agreement (三方协议) before applying",
    "memo_conflict": "confirm which invoice the customer meant (remittance advice)",
    "short_payment": "send a statement and ask the customer for the reason",
    "disputed_invoice": "resolve the dispute with sales; hold dunning",
    "repeated_late_payment": "review credit terms (prepayment / credit hold)",
    "overpayment": "confirm with the customer: refund or keep on account",
    "duplicate_payment": "contact the customer: refund or apply to the next invoice",
    "unidentified_receipt": "ask the bank / customers for remittance details",
}

COLUMNS = {
    "exception_id": pl.String,
    "class": pl.String,
    "type": pl.String,
    "customer_id": pl.String,
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "amount": MONEY,
    "currency": pl.String,
    "evidence": pl.String,
    "suggested_action": pl.String,
    "status": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
}

TOLERANCE_KINDS = ("bank_charge", "discount", "fx_difference", "rounding")


@dataclass(frozen=True)
class ExceptionConfig:
    """``exceptions:`` section of the params (amounts in the item's own currency).

    - ``rounding_tolerance``: a difference up to this is rounding (default 0.05).
    - ``shift_factors``: decimal-shift factors checked both ways (default 10, 100, 1000).
    - ``tax_rates``: VAT rates for paid-net-of-tax checks (default 0.13, 0.09, 0.06).
    - ``tax_tolerance``: how close net-of-tax must be (default 0.02).
    - ``discount_rates``: early-payment discounts recognised even when not in the
      customer's terms (default 0.01, 0.02, 0.03).
    - ``discount_grace_days``: days past the discount window still accepted (default 0).
    - ``bank_charge_tolerance``: largest bank charge written off silently (default 50.00);
      ``bank_charge_tolerance_by_currency`` overrides it per currency (default USD/EUR 20).
    - ``fx_tolerance_pct``: FX difference in % of the invoice accepted (default 1.0).
    - ``late_min_count`` / ``late_unit`` / ``late_grace_days``: a customer late in at least
      this many ``invoices`` (or ``periods``) of the history, more than the grace days after
      due, is a repeated late payer (default 3, invoices, 0).
    - ``duplicate_line_keys``: receipt columns that make two bank lines the same
      (default value_date, amount, currency, payer_name, memo).
    - ``actions``: suggested action per type (overrides the built-in text).
    """

    rounding_tolerance: Decimal = Decimal("0.05")
    shift_factors: tuple[int, ...] = (10, 100, 1000)
    tax_rates: tuple[Decimal, ...] = (Decimal("0.13"), Decimal("0.09"), Decimal("0.06"))
    tax_tolerance: Decimal = Decimal("0.02")
    discount_rates: tuple[Decimal, ...] = (Decimal("0.01"), Decimal("0.02"), Decimal("0.03"))
    discount_grace_days: int = 0
    bank_charge_tolerance: Decimal = Decimal("50.00")
    bank_charge_tolerance_by_currency: Mapping[str, Decimal] = field(
        default_factory=lambda: {"USD": Decimal("20.00"), "EUR": Decimal("20.00")}
    )
    fx_tolerance_pct: Decimal = Decimal("1.0")
    late_min_count: int = 3
    late_unit: str = "invoices"
    late_grace_days: int = 0
    duplicate_line_keys: tuple[str, ...] = (
        "value_date",
        "amount",
        "currency",
        "payer_name",
        "memo",
    )
    actions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("rounding_tolerance", "tax_tolerance", "bank_charge_tolerance"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        object.__setattr__(self, "fx_tolerance_pct", to_decimal(self.fx_tolerance_pct))
        object.__setattr__(self, "tax_rates", tuple(to_decimal(r) for r in self.tax_rates))
        object.__setattr__(
            self, "discount_rates", tuple(to_decimal(r) for r in self.discount_rates)
        )
        object.__setattr__(
            self,
            "bank_charge_tolerance_by_currency",
            {k: to_decimal(v) for k, v in self.bank_charge_tolerance_by_currency.items()},
        )
        if self.late_unit not in ("invoices", "periods"):
            raise ValueError(f"late_unit must be invoices or periods, not {self.late_unit!r}")
        unknown = set(self.actions) - set(CLASS_OF)
        if unknown:
            raise ValueError(f"actions for unknown exception types: {sorted(unknown)}")

    def action(self, kind: str) -> str:
        return self.actions.get(kind, DEFAULT_ACTIONS[kind])


# --------------------------------------------------------------------------- pure checks
def _pct(rate: Decimal) -> str:
    """0.13 -> '13', 0.015 -> '1.5'."""
    return f"{(rate * 100).normalize():f}"


def _digits(amount: Decimal) -> str:
    return str(int((abs(amount) * 100).to_integral_value()))


def is_transposition(a: Decimal, b: Decimal) -> bool:
    """True when ``a`` and ``b`` differ only by two adjacent digits swapped (1,243 vs 1,234)."""
    da, db = _digits(a), _digits(b)
    if len(da) != len(db) or da == db:
        return False
    diff = [i for i, (x, y) in enumerate(zip(da, db, strict=True)) if x != y]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and da[diff[0]] == db[diff[1]]
        and da[diff[1]] == db[diff[0]]
    )


def decimal_shift(paid: Decimal, invoice: Decimal, factors=(10, 100, 1000)) -> str | None:
    """``'× 10'`` when ``paid`` is ``invoice`` × 10 (exactly), ``'÷ 10'`` when it is the
    invoice ÷ 10 to the cent; None otherwise (a ratio near 1 is never a shift)."""
    if paid <= 0 or invoice <= 0:
        return None
    for f in factors:
        if paid == invoice * f:
            return f"× {f}"
        if abs(paid - invoice / f) < CENT:
            return f"÷ {f}"
    return None


def net_of_tax(paid: Decimal, invoice: Decimal, rates, tolerance: Decimal) -> Decimal | None:
    """The VAT rate when ``paid`` ≈ ``invoice`` / (1 + rate) within ``tolerance``."""
    for rate in rates:
        if abs(paid - invoice / (1 + rate)) <= tolerance:
            return rate
    return None


_TERMS = re.compile(r"(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+)")


def parse_discount_terms(text: str | None) -> list[tuple[Decimal, int]]:
    """``'2/10 net 30'`` -> ``[(0.02, 10)]`` (rate, days from invoice date)."""
    if not text:
        return []
    return [(Decimal(pct) / 100, int(days)) for pct, days in _TERMS.findall(text)]


def exception_id(kind: str, receipt_id: str | None, invoice_id: str | None, extra: str = "") -> str:
    """``EX-`` + 10 hex of sha256(type|receipt_id|invoice_id[|extra]): stable across reruns."""
    key = f"{kind}|{receipt_id or ''}|{invoice_id or ''}" + (f"|{extra}" if extra else "")
    return "EX-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


# --------------------------------------------------------------------------- classifier
def _rows(df: pl.DataFrame | None) -> list[dict]:
    return [] if df is None else df.to_dicts()


class _Classifier:
    """Holds lookups over the match result; one method per residual family."""

    def __init__(self, allocations, suggestions, receipts, invoices, customers, config, history):
        self.c = config
        self.out: list[dict] = []
        self.receipts = _rows(receipts)
        self.invoices = {r["invoice_id"]: r for r in _rows(invoices)}
        self.allocs = _rows(allocations)
        self.customers = {r["customer_id"]: r for r in _rows(customers)}
        self.suggestions: dict[str, list[dict]] = defaultdict(list)
        for s in sorted(_rows(suggestions), key=lambda s: (s["receipt_id"], s.get("rank") or 0)):
            self.suggestions[s["receipt_id"]].append(s)
        self.by_customer: dict[str, list[dict]] = defaultdict(list)
        for inv in sorted(
            self.invoices.values(),
            key=lambda r: (r.get("due_date") or dt.date.max, r["invoice_id"]),
        ):
            self.by_customer[inv.get("customer_id")].append(inv)
        self.cash_by_receipt: dict[str, list[dict]] = defaultdict(list)
        self.cash_by_invoice: dict[str, list[dict]] = defaultdict(list)
        for a in self.allocs:
            if a.get("kind", "cash") == "cash":
                self.cash_by_receipt[a["receipt_id"]].append(a)
                self.cash_by_invoice[a["invoice_id"]].append(a)
        self.receipt_by_id = {r["receipt_id"]: r for r in self.receipts}
        self.history = history

    # -- output
    def add(
        self, kind, *, customer, receipt, invoice, amount, currency, evidence, src, status="open"
    ):
        self.out.append(
            {
                "class": CLASS_OF[kind],
                "type": kind,
                "customer_id": customer,
                "receipt_id": receipt,
                "invoice_id": invoice,
                "amount": amount,
                "currency": currency,
                "evidence": evidence,
                "suggested_action": self.c.action(kind),
                "status": status,
                "source_file": (src or {}).get("source_file"),
                "source_row": (src or {}).get("source_row"),
            }
        )

    # -- helpers
    def customer_of(self, r: dict) -> str | None:
        if r.get("customer_id"):
            return r["customer_id"]
        sug = self.suggestions.get(r["receipt_id"])
        return sug[0].get("customer_id") if sug else None

    def candidates(self, r: dict, customer: str | None) -> list[dict]:
        """Invoices a residual receipt may relate to: the customer's unpaid invoices, the
        ones this receipt was applied to, and the ones suggested for it."""
        ids = {a["invoice_id"] for a in self.cash_by_receipt.get(r["receipt_id"], [])}
        for s in self.suggestions.get(r["receipt_id"], []):
            ids.update(i for i in (s.get("invoice_ids") or "").split("|") if i)
        out = [
            inv
            for inv in self.by_customer.get(customer, [])
            if customer
            if inv.get("status") != "paid" or inv["invoice_id"] in ids
        ]
        seen = {inv["invoice_id"] for inv in out}
        out += [self.invoices[i] for i in sorted(ids - seen) if i in self.invoices]
        return [inv for inv in out if inv.get("currency") == r.get("currency")]

    def discount_terms(self, customer: str | None) -> list[tuple[Decimal, int]]:
        return parse_discount_terms((self.customers.get(customer) or {}).get("discount_terms"))

    def payment_date(self, invoice_id: str) -> dt.date | None:
        dates = [
            self.receipt_by_id.get(a["receipt_id"], {}).get("value_date")
            for a in self.cash_by_invoice.get(invoice_id, [])
        ]
        dates = [d for d in dates if d]
        return max(dates) if dates else None

    def discount_verdict(
        self, inv: dict, discount: Decimal, paid_on: dt.date | None
    ) -> tuple[str, str]:
        """(type, evidence) for a discount taken on ``inv``: ``discount`` when the rate is
        in the customer's terms and paid inside the window, else ``discount_outside_terms``."""
        amount = inv["amount"]
        terms = self.discount_terms(inv.get("customer_id"))
        pct = f"{discount / amount * 100:.2f}%" if amount else "n/a"
        base = f"discount {fmt_money(discount)} = {pct} of invoice {fmt_money(amount)}"
        if not terms:
            return "discount_outside_terms", f"{base}; customer has no discount terms"
        tol = self.c.rounding_tolerance
        matching = [(r, d) for r, d in terms if abs(discount - amount * r) <= tol]
        if not matching:
            allowed = ", ".join(f"{_pct(r)}%" for r, _ in terms)
            return "discount_outside_terms", f"{base}; terms allow {allowed}"
        inv_date = inv.get("invoice_date")
        for rate, days in matching:
            if paid_on is None or inv_date is None:
                return "discount", f"{base}; in terms {_pct(rate)}/{days} (payment date unknown)"
            end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
            if paid_on <= end:
                return "discount", f"{base}; paid {paid_on} within {_pct(rate)}/{days} (by {end})"
        rate, days = matching[0]
        end = inv_date + dt.timedelta(days=days + self.c.discount_grace_days)
        late = (paid_on - end).days
        return (
            "discount_outside_terms",
            f"{base}; paid {paid_on}, {late} day(s) after the {_pct(rate)}/{days} window "
            f"ended {end}",
        )

    def pattern(self, paid: Decimal, inv: dict, *, allow_rounding: bool) -> tuple[str, str] | None:
        """Technical / tax patterns between a payment and an invoice, most specific first."""
        c = self.c
        label = f"invoice {inv['invoice_id']}"
        values = []
        for v in (inv.get("open_amount"), inv["amount"]):
            if v is not None and v > 0 and v not in values:
                values.append(v)
        for v in values:
            if allow_rounding and paid != v and abs(paid - v) <= c.rounding_tolerance:
                return "rounding", (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: "
                    f"difference {fmt_money(paid - v)} ≤ {fmt_money(c.rounding_tolerance)}"
                )
        for v in values:
            shift = decimal_shift(paid, v, c.shift_factors)
            if shift:
                return "decimal_shift", f"{fmt_money(paid)} = {label} {fmt_money(v)} {shift}"
        for v in values:
            if is_transposition(paid, v):
                return "transposition", (
                    f"{fmt_money(paid)} vs {label} {fmt_money(v)}: two adjacent digits "
                    f"swapped (difference {fmt_money(paid - v)}, divisible by 9)"
                )
        amount = inv["amount"]
        tax = inv.get("tax_amount")
        if tax and abs(paid - (amount - tax)) <= c.tax_tolerance:
            return "tax_difference", (
                f"{fmt_money(paid)} = {label} {fmt_money(amount)} − VAT {fmt_money(tax)}"
            )
        rate = net_of_tax(paid, amount, c.tax_rates, c.tax_tolerance)
        if rate is not None:
            return "tax_difference", (
                f"{fmt_money(paid)} ≈ {label} {fmt_money(amount)} / (1 + {_pct(rate)}%) "
                f"= {fmt_money(amount / (1 + rate))}: paid net of VAT"
            )
        return None

    # -- receipts
    def receipt_residuals(self) -> None:
        keys = self.c.duplicate_line_keys
        groups: dict[tuple, list[dict]] = defaultdict(list)
        ordered = sorted(
            self.receipts,
            key=lambda r: (r.get("source_file") or "", r.get("source_row") or 0, r["receipt_id"]),
        )
        for r in ordered:
            groups[tuple(r.get(k) for k in keys)].append(r)
        for r in ordered:
            unapplied = r.get("unapplied")
            if unapplied is None or unapplied == 0 or r.get("status") == "not_ar":
                continue
            self.receipt_residual(r, groups[tuple(r.get(k) for k in keys)])

    def receipt_residual(self, r: dict, group: list[dict]) -> None:
        rid, cur, amount, unapplied = (
            r["receipt_id"],
            r.get("currency"),
            r["amount"],
            r["unapplied"],
        )
        customer = self.customer_of(r)
        allocated = r.get("allocated") or (amount - unapplied)

        def add(kind, evidence, invoice=None, cust=customer):
            self.add(
                kind,
                customer=cust,
                receipt=rid,
                invoice=invoice,
                amount=unapplied,
                currency=cur,
                evidence=evidence,
                src=r,
            )

        # duplicate bank line: an identical line that was applied, or an earlier residual one
        pos = group.index(r)
        twins = [
            o
            for i, o in enumerate(group)
            if o is not r and ((o.get("allocated") or 0) > 0 or i < pos)
        ]
        if twins:
            t = twins[0]
            add(
                "duplicate_bank_line",
                f"same {', '.join(self.c.duplicate_line_keys)} as receipt {t['receipt_id']} "
                f"({r.get('value_date')}, {fmt_money(amount)} {cur}, {r.get('payer_name')}, "
                f"memo {r.get('memo')!r}) at {t.get('source_file')}:{t.get('source_row')}",
            )
            return
        if allocated == 0 and customer:
            dup = self.duplicate_payment(r, customer)
            if dup:
                add("duplicate_payment", dup[1], invoice=dup[0])
                return
        if allocated > 0 and abs(unapplied) <= self.c.rounding_tolerance:
            add(
                "rounding",
                f"receipt {fmt_money(amount)} applied {fmt_money(allocated)}; "
                f"{fmt_money(unapplied)} left ≤ {fmt_money(self.c.rounding_tolerance)}",
            )
            return
        cands = self.candidates(r, customer)
        for inv in cands:
            hit = self.pattern(amount, inv, allow_rounding=allocated == 0)
            if hit:
                add(hit[0], f"receipt {hit[1]}", invoice=inv["invoice_id"])
                return
        if allocated == 0:
            for inv in cands:
                hit = self.discount_on_receipt(r, inv) or self.charge_on_receipt(r, inv)
                if hit:
                    add(hit[0], hit[1], invoice=inv["invoice_id"])
                    return
        if r.get("status") == "dispute":
            sug = [
                i
                for s in self.suggestions.get(rid, [])
                for i in (s.get("invoice_ids") or "").split("|")
            ]
            add(
                "disputed_invoice",
                f"receipt {fmt_money(amount)} held as dispute by matching; memo {r.get('memo')!r}",
                invoice=sug[0] if sug and sug[0] else None,
            )
            return
        if allocated > 0:
            paid = sorted({a["invoice_id"] for a in self.cash_by_receipt.get(rid, [])})
            add(
                "overpayment",
                f"receipt {fmt_money(amount)} applied {fmt_money(allocated)} to "
                f"{', '.join(paid) or 'invoices'}; {fmt_money(unapplied)} left over",
            )
            return
        owed = sum(
            (
                i.get("open_amount") or Decimal(0)
                for i in self.by_customer.get(customer, [])
                if i.get("currency") == cur and i.get("status") != "paid"
            ),
            Decimal(0),
        )
        if r.get("customer_id") and owed <= 0:
            add(
                "overpayment",
                f"receipt {fmt_money(amount)} from {customer}, who has no open {cur} invoices",
            )
            return
        sug = self.suggestions.get(rid, [])
        if sug:
            s = sug[0]
            evidence = (
                f"receipt {fmt_money(amount)} not applied; {len(sug)} suggestion(s), best: "
                f"{s.get('invoice_ids')} ({s.get('customer_id')}) score {s.get('score')} — "
                f"{s.get('reason')}"
            )
        elif customer:
            evidence = (
                f"receipt {fmt_money(amount)} from {customer} matches no open invoice or "
                f"combination (customer owes {fmt_money(owed)} {cur})"
            )
        else:
            evidence = (
                f"receipt {fmt_money(amount)} from payer {r.get('payer_name')!r} "
                f"(account {r.get('payer_account')}) not identified; memo {r.get('memo')!r}"
            )
        add("unidentified_receipt", evidence)

    def discount_on_receipt(self, r: dict, inv: dict) -> tuple[str, str] | None:
        """An unapplied receipt equal to an invoice less a discount the matcher did not take."""
        amount, paid = inv["amount"], r["amount"]
        rates = {rate for rate, _ in self.discount_terms(inv.get("customer_id"))}
        rates.update(self.c.discount_rates)
        for rate in sorted(rates):
            if abs(paid - amount * (1 - rate)) <= self.c.rounding_tolerance:
                kind, ev = self.discount_verdict(inv, amount - paid, r.get("value_date"))
                return kind, f"receipt {fmt_money(paid)} = invoice {inv['invoice_id']} less {ev}"
        return None

    def charge_on_receipt(self, r: dict, inv: dict) -> tuple[str, str] | None:
        """An unapplied receipt short of an invoice by a bank-charge-sized amount."""
        c = self.c
        owed = inv.get("open_amount") or inv["amount"]
        short = owed - r["amount"]
        tol = c.bank_charge_tolerance_by_currency.get(r.get("currency"), c.bank_charge_tolerance)
        if c.rounding_tolerance < short <= tol:
            return "bank_charge", (
                f"receipt {fmt_money(r['amount'])} = invoice {inv['invoice_id']} "
                f"{fmt_money(owed)} − {fmt_money(short)} (≤ bank-charge tolerance "
                f"{fmt_money(tol)}): likely deducted by the bank; not yet applied"
            )
        return None

    def duplicate_payment(self, r: dict, customer: str) -> tuple[str, str] | None:
        """Same amount from the same customer already applied to a now-paid invoice."""
        amount, rid = r["amount"], r["receipt_id"]
        for other in self.receipts:
            if other["receipt_id"] == rid or self.customer_of(other) != customer:
                continue
            if other["amount"] != amount:
                continue  # only a whole earlier payment of the same amount counts
            for a in self.cash_by_receipt.get(other["receipt_id"], []):
                inv = self.invoices.get(a["invoice_id"], {})
                if a["applied_amount"] == amount and inv.get("status") == "paid":
                    return a["invoice_id"], (
                        f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
                        f"{other['receipt_id']} {fmt_money(amount)} on {other.get('value_date')} "
                        f"already applied to invoice {a['invoice_id']} (paid)"
                    )
        if self.history is not None:
            single = self.history.filter(
                (pl.col("customer_id") == customer) & (pl.col("receipt_id") != rid)
            ).filter(pl.len().over("receipt_id") == 1)  # receipts that paid one invoice only
            for h in single.filter(pl.col("applied_amount") == amount).to_dicts():
                inv = self.invoices.get(h["invoice_id"])
                if inv is None or inv.get("status") == "paid":
                    return h["invoice_id"], (
                        f"receipt {fmt_money(amount)} on {r.get('value_date')} = receipt "
                        f"{h['receipt_id']} {fmt_money(amount)} on {h['payment_date']} "
                        f"({h['period']}) already applied to invoice {h['invoice_id']}"
                    )
        return None

    # -- invoices
    def invoice_residuals(self) -> None:
        for iid in sorted(self.invoices):
            inv = self.invoices[iid]
            open_amt = inv.get("open_amount")
            if open_amt is None or open_amt <= 0:
                continue
            applied = inv.get("applied") or Decimal(0)
            if inv.get("disputed") or (applied > 0 and inv.get("status") != "paid"):
                self.invoice_residual(inv, applied, open_amt)

    def invoice_residual(self, inv: dict, applied: Decimal, open_amt: Decimal) -> None:
        iid, amount = inv["invoice_id"], inv["amount"]
        cash = self.cash_by_invoice.get(iid, [])
        rids = "|".join(sorted({a["receipt_id"] for a in cash})) or None
        paid = sum((a["applied_amount"] for a in cash), Decimal(0))

        def add(kind, evidence):
            self.add(
                kind,
                customer=inv.get("customer_id"),
                receipt=rids,
                invoice=iid,
                amount=open_amt,
                currency=inv.get("currency"),
                evidence=evidence,
                src=inv,
            )

        head = (
            f"invoice {iid} {fmt_money(amount)}, paid {fmt_money(applied)}, "
            f"open {fmt_money(open_amt)}"
        )
        if inv.get("disputed"):
            add("disputed_invoice", f"{head}; invoice marked disputed")
            return
        if open_amt <= self.c.rounding_tolerance:
            add("rounding", f"{head} ≤ {fmt_money(self.c.rounding_tolerance)}")
            return
        if paid > 0:
            hit = self.pattern(paid, {**inv, "open_amount": None}, allow_rounding=False)
            if hit:
                add(hit[0], f"cash {hit[1]}; open {fmt_money(open_amt)}")
                return
            rates = {rate for rate, _ in self.discount_terms(inv.get("customer_id"))}
            rates.update(self.c.discount_rates)
            for rate in sorted(rates):
                if abs(open_amt - amount * rate) <= self.c.rounding_tolerance:
                    kind, ev = self.discount_verdict(inv, open_amt, self.payment_date(iid))
                    add(kind, f"{head}: {ev}")
                    return
        add("short_payment", f"{head}; no explanation found (not rounding, tax, discount)")

    # -- tolerance allocations and flags
    def tolerance_allocations(self) -> None:
        c = self.c
        flagged: set[tuple[str, str, str]] = set()
        for a in sorted(self.allocs, key=lambda a: (a["receipt_id"], a["invoice_id"], a["kind"])):
            kind, amt, cur = a.get("kind"), a["applied_amount"], a.get("currency")
            inv = self.invoices.get(a["invoice_id"], {})
            rec = self.receipt_by_id.get(a["receipt_id"], {})
            base = dict(
                customer=a.get("customer_id") or inv.get("customer_id"),
                receipt=a["receipt_id"],
                invoice=a["invoice_id"],
                amount=amt,
                currency=cur,
                src=rec or inv,
            )
            head = f"{kind} {fmt_money(amt)} {cur} on invoice {a['invoice_id']}"
            if kind == "bank_charge":
                tol = c.bank_charge_tolerance_by_currency.get(cur, c.bank_charge_tolerance)
                if abs(amt) > tol:
                    self.add(
                        "bank_charge_over_tolerance",
                        evidence=f"{head} > tolerance {fmt_money(tol)}",
                        **base,
                    )
                else:
                    self.add(
                        "bank_charge",
                        evidence=f"{head} ≤ {fmt_money(tol)}",
                        status="cleared",
                        **base,
                    )
            elif kind == "discount":
                t, ev = (
                    self.discount_verdict(inv, amt, rec.get("value_date"))
                    if inv
                    else (
                        "discount_outside_terms",
                        f"{head}; invoice not found",
                    )
                )
                self.add(t, evidence=ev, status="cleared" if t == "discount" else "open", **base)
            elif kind == "fx_difference":
                total = inv.get("amount") or Decimal(0)
                pct = abs(amt) / total * 100 if total else None
                within = pct is not None and pct <= c.fx_tolerance_pct
                shown = f"{pct:.2f}%" if pct is not None else "n/a"
                self.add(
                    "fx_difference",
                    evidence=f"{head} = {shown} of invoice {fmt_money(total)} "
                    f"({'≤' if within else '>'} {c.fx_tolerance_pct}%)",
                    status="cleared" if within else "open",
                    **base,
                )
            elif kind == "rounding":
                within = abs(amt) <= c.rounding_tolerance
                self.add(
                    "rounding",
                    evidence=f"{head} ({'≤' if within else '>'} {fmt_money(c.rounding_tolerance)})",
                    status="cleared" if within else "open",
                    **base,
                )
            flags = {f for f in (a.get("flags") or "").split("|") if f}
            for flag, t in (
                ("third_party", "third_party_payment"),
                ("memo_conflict", "memo_conflict"),
            ):
                key = (t, a["receipt_id"], a["invoice_id"])
                if flag in flags and key not in flagged:
                    flagged.add(key)
                    pair = [
                        x["applied_amount"]
                        for x in self.allocs
                        if x["receipt_id"] == a["receipt_id"]
                        and x["invoice_id"] == a["invoice_id"]
                        and x.get("kind", "cash") == "cash"
                    ]
                    ev = (
                        f"payer {rec.get('payer_name')!r} paid {fmt_money(sum(pair, Decimal(0)))} "
                        f"on invoice {a['invoice_id']} of {base['customer']}"
                        if t == "third_party_payment"
                        else f"memo {rec.get('memo')!r} conflicts with allocation to "
                        f"{a['invoice_id']}: {a.get('reason')}"
                    )
                    self.add(t, evidence=ev, **{**base, "amount": sum(pair, Decimal(0)) or amt})

    # -- customers
    def repeated_late(self, current: pl.DataFrame) -> None:
        c = self.c
        hist = (
            current
            if self.history is None
            else pl.concat(
                [self.history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA), current]
            ).unique(["period", "receipt_id", "invoice_id"], keep="last", maintain_order=True)
        )
        late = hist.filter(pl.col("days_late") > c.late_grace_days)
        unit = "invoice_id" if c.late_unit == "invoices" else "period"
        for (cid,), part in late.sort("customer_id", "period").group_by(
            ["customer_id"], maintain_order=True
        ):
            total = hist.filter(pl.col("customer_id") == cid)[unit].n_unique()
            n = part[unit].n_unique()
            if cid is None or n < c.late_min_count:
                continue
            currencies = part["currency"].unique().to_list()
            amount = part["applied_amount"].sum() if len(currencies) == 1 else None
            w = sum(
                (
                    Decimal(d) * a
                    for d, a in zip(part["days_late"], part["applied_amount"], strict=True)
                ),
                Decimal(0),
            )
            avg = w / part["applied_amount"].sum() if part["applied_amount"].sum() else Decimal(0)
            self.add(
                "repeated_late_payment",
                customer=cid,
                receipt=None,
                invoice=None,
                amount=amount,
                currency=currencies[0] if len(currencies) == 1 else None,
                evidence=(
                    f"late in {n} of {total} {c.late_unit} "
                    f"({', '.join(sorted(set(part['period'])))}); "
                    f"average {avg:.1f} days late, worst {part['days_late'].max()} days"
                ),
                src=None,
            )


def classify_exceptions(
    allocations: pl.DataFrame,
    suggestions: pl.DataFrame | None,
    receipts: pl.DataFrame,
    invoices: pl.DataFrame,
    customers: pl.DataFrame | None = None,
    config: ExceptionConfig | None = None,
    history: pl.DataFrame | None = None,
    *,
    period: str | None = None,
) -> pl.DataFrame:
    """Every residual and tolerance allocation of a ``MatchResult`` as a classified exception.

    Arguments are the matcher's ``allocations``, ``suggestions``, ``receipts`` and
    ``invoices`` frames, the canonical ``customers``, and an optional payment ``history``
    of earlier periods (:func:`arlib.kpis.payment_history`). Returns ``exceptions.csv``
    columns plus currency and provenance, sorted by class, type and ids.
    """
    config = config or ExceptionConfig()
    if history is not None and history.height == 0:
        history = None
    clf = _Classifier(allocations, suggestions, receipts, invoices, customers, config, history)
    clf.receipt_residuals()
    clf.invoice_residuals()
    clf.tolerance_allocations()
    clf.repeated_late(payment_history(allocations, receipts, invoices, period))

    seen: dict[str, int] = defaultdict(int)
    for row in clf.out:
        key = (
            row["type"],
            row["receipt_id"],
            row["invoice_id"] or (row["customer_id"] if row["receipt_id"] is None else None),
        )
        seen[key] += 1
        extra = "" if seen[key] == 1 else str(seen[key])
        row["exception_id"] = exception_id(key[0], key[1], key[2], extra)
    order = list(dict.fromkeys(CLASS_OF.values()))
    df = pl.DataFrame(clf.out, schema=COLUMNS) if clf.out else pl.DataFrame(schema=COLUMNS)
    return df.select(list(COLUMNS)).sort(
        pl.col("class").replace_strict({k: i for i, k in enumerate(order)}, return_dtype=pl.Int64),
        "type",
        "customer_id",
        "receipt_id",
        "invoice_id",
        nulls_last=True,
        maintain_order=True,
    )
