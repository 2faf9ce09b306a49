"""Credit notes naming no invoice, netted when with a receipt they pay an invoice exactly.

A customer deducts its credit notes (a return, a rebate) from its next payment: receipt
200.00 + credit notes 100.00 and 50.00 = its open invoice 350.00. The invoice is cleared by
the cash (a ``cash`` row) and by the credit notes (``credit_note`` rows whose receipt_id is
the credit_id, no cash: ``receipt_amount`` 0), only when that is exact and the only
combination: one open invoice of the payer's own customer in the receipt's currency, and
one set of that customer's credit notes that name no invoice, in that currency (a credit
note without a currency counts in any, as :mod:`arlib.match.rules.credit_note` takes it).

Never when the receipt alone is the open amount of an invoice it could pay (cash explains
it: the reference and exact-amount rules decide), when its memo announces an instalment,
or when it names invoices of the payer and the credit notes fit none of those (then only a
named invoice may be netted; naming only other invoices, it is not tried). Two invoices,
or two sets of credit notes, that fit: nothing (people decide, the credit notes stay
unapplied). The search is bounded by counts: at most ``combined_max_invoices`` credit notes
per receipt, ``combined_max_nodes`` search nodes per invoice, ``combined_max_candidates``
invoices in reach; beyond, or cut short, the receipt is left to the later rules.

It runs after people's decisions and before the reference rules: a documented credit note
that makes the payment exact is a better explanation of a shortfall than any tolerance
(rounding, discount, bank charge, payment tolerance) or a partial payment, and it yields to
cash alone by the rule above.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import range_join
from arlib.match.search import subsets
from arlib.money import fmt_cents


def _credits(ctx: Context) -> dict[str, list[tuple[int, str, int, str | None]]]:
    """customer -> its credit notes naming no invoice, in netting order, as (position,
    credit_id, cents, currency or None)."""
    cn = ctx.credit_notes
    if cn is None or cn.height == 0:
        return {}
    unnamed = cn.filter(
        pl.col("invoice_id").cast(pl.String).str.strip_chars().fill_null("") == ""
    ).filter((pl.col("_cred_c") > 0) & pl.col("customer_id").is_not_null())
    out: dict[str, list[tuple[int, str, int, str | None]]] = defaultdict(list)
    for pos, cid, cust, cents, ccy in (
        unnamed.sort("_cn")
        .select("_cn", "credit_id", pl.col("customer_id").cast(pl.String), "_cred_c", "currency")
        .iter_rows()
    ):
        out[cust].append((pos, cid, int(cents), ccy))
    return out


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    cfg, ledger = ctx.cfg, ctx.ledger
    credits = _credits(ctx)
    if not credits or receipts.height == 0:
        return Proposal()
    fr = receipts.filter(pl.col("c_pay").is_in(list(credits)) & ~pl.col("inst"))
    # only receipts that some open invoice of their customer lies above, by at most what
    # the customer has in such credit notes: a sorted search, before any per-receipt work
    totals = pl.DataFrame(
        [(cust, sum(c[2] for c in notes)) for cust, notes in credits.items()],
        schema={"c_pay": pl.String, "_credit_c": pl.Int64},
        orient="row",
    )
    reach = range_join(
        fr.select("rec_idx", "c_pay", "currency", "amt_c").join(totals, on="c_pay"),
        ledger.open_invoices().select(pl.col("customer_id").alias("c_pay"), "currency", "open_c"),
        ["c_pay", "currency"],
        "open_c",
        pl.col("amt_c") + 1,
        pl.col("amt_c") + pl.col("_credit_c"),
        cap=1,
    )
    fr = fr.join(reach.select("rec_idx").unique(), on="rec_idx", how="semi").sort(
        ["value_date", "receipt_id"]
    )
    if fr.height == 0:
        return Proposal()
    # per (customer, currency) the open invoices by open amount: a sorted search per
    # receipt, never a scan of a big customer's open items
    by_amount: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    oi = ledger.open_invoices().filter(pl.col("customer_id").is_in(list(credits)))
    for (cust, ccy), g in oi.sort(["open_c", "invoice_date", "invoice_id"]).group_by(
        ["customer_id", "currency"], maintain_order=True
    ):
        by_amount[(cust, ccy)] = (g["open_c"].to_list(), g["inv_idx"].to_list())
    named: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        ctx.refs.join(fr.select("rec_idx"), on="rec_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        named[ri].add(ii)
    # invoices named by another receipt still waiting are left for that receipt
    claimed: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        ctx.refs.join(ledger.fresh_receipts().select("rec_idx"), on="rec_idx", how="semi")
        .join(oi.select("inv_idx"), on="inv_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        claimed[ii].add(ri)
    inv_open = ledger.inv_open.copy()
    cap = cfg.combined_max_candidates
    used: set[int] = set()  # credit-note positions netted in this pass
    rows: list[tuple] = []
    for r in fr.select(
        "rec_idx", "receipt_id", "value_date", "currency", "amt_c", "c_pay"
    ).iter_rows(named=True):
        ri, amt, cust, ccy = r["rec_idx"], int(r["amt_c"]), r["c_pay"], r["currency"]
        avail = [c for c in credits[cust] if c[0] not in used and (c[3] is None or c[3] == ccy)]
        if not avail:
            continue
        total = sum(c[2] for c in avail)
        if ri in named:  # only the payer's open invoices the memo names, if it names any
            mine = [
                i
                for i in named[ri]
                if ledger.inv_cust[i] == cust and ledger.inv_ccy[i] == ccy and inv_open[i] > 0
            ]
            if not mine:
                continue
            window = sorted(
                (i for i in mine if amt <= inv_open[i] <= amt + total),
                key=lambda i: (inv_open[i], ledger.inv_date[i], ledger.inv_id[i]),
            )
        else:  # the open invoices from the receipt's amount up to it plus every credit note
            opens, idxs = by_amount.get((cust, ccy), ([], []))
            window = []
            for k in range(bisect_left(opens, amt), bisect_right(opens, amt + total)):
                if inv_open[idxs[k]] > 0:
                    window.append(idxs[k])
                    if len(window) > cap:
                        break
        if any(inv_open[i] == amt for i in window):
            continue  # the cash alone pays an invoice: not for this rule
        reach = [
            i
            for i in window
            if (ri, i) not in ledger.rejected and not (claimed.get(i, set()) - {ri})
        ]
        if not reach or len(window) > cap:
            continue
        amounts = [c[2] for c in avail]
        kmax = min(len(amounts), cfg.combined_max_invoices)
        fits: list[tuple[int, list[int]]] = []
        complete = True
        for i in reach:
            found, done = subsets(
                amounts, int(inv_open[i]) - amt, 0, kmax, cfg.combined_max_nodes, kmin=1
            )
            complete &= done
            fits.extend((i, f) for f in found)
            if len(fits) > 1 or not complete:
                break
        if len(fits) != 1 or not complete:
            continue
        i, picked = fits[0]
        netted = [avail[k] for k in picked]
        o = int(inv_open[i])
        inv_open[i] = 0
        used.update(c[0] for c in netted)
        iid = ledger.inv_id[i]
        sub_rule = "credit_note.netted_named" if ri in named else "credit_note.netted"
        notes = ", ".join(f"{c[1]} ({fmt_cents(c[2])})" for c in netted)
        reason = (
            f"receipt {r['receipt_id']} {fmt_cents(amt)} + credit notes naming no invoice "
            f"{notes} = {fmt_cents(o)}, the open amount of invoice {iid}"
            + (" (named in the memo)" if ri in named else "")
            + f" of customer {cust}: the only invoice and set of credit notes that add up"
        )
        head = (len(rows), 0, r["value_date"])
        rows.append(
            (*head, r["receipt_id"], ri, i, "cash", amt, amt, "credit_note", sub_rule, reason, "")
        )
        for _, cid, cents, _ in netted:
            rows.append(
                (*head, cid, None, i, "credit_note", cents, 0, "credit_note", sub_rule, reason, "")
            )
    return Proposal(rows=proposal_rows(rows))


RULE = Rule(
    id="credit_note.unnamed",
    switch="credit_note",
    description="credit notes naming no invoice, netted with a receipt of the same customer "
    "and currency when receipt + credit notes = one open invoice exactly, the only such "
    "invoice and set of credit notes (never when the receipt alone pays an invoice, nor on "
    "an instalment)",
    receipts=Receipts(payer=True, policy="open_item"),
    propose=propose,
    ties="in_order",
    confidence={"credit_note.netted": 0.85, "credit_note.netted_named": 0.9},
    settings=("combined_max_invoices", "combined_max_candidates", "combined_max_nodes"),
)
