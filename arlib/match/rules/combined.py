"""Combined payments: one receipt = the exact sum of 2..k open invoices of its payer.

Found by a bounded search (``combined_max_nodes`` search nodes per receipt, a count, never
a clock) over the oldest ``combined_max_candidates`` open invoices that fit the amount,
named ones first; applied only when that combination is the only one, else suggestions. A
memo that counts its invoices (付INV0012345等6笔货款, 6 invoices) asks for exactly that many,
its named invoices among them, up to 10. No bank-charge tolerance here: a near sum of
unnamed invoices is too often a coincidence (``reference.combined`` may write one off).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import islice

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule, proposal_rows
from arlib.match.frames import SUGGESTION_ROWS, short
from arlib.match.prepare import residue_lists
from arlib.match.search import subsets
from arlib.money import fmt_cents

_INVOICE_COUNT = (r"(?:等|共)\s*(\d{1,2})\s*[笔张份项]", r"(?i)\b(\d{1,2})\s+invoices\b")
#: ... but never more than this many in one combination
_COMBINED_HARD_MAX = 10


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    cfg, ledger, refs = ctx.cfg, ctx.ledger, ctx.refs
    fr = receipts.sort(["value_date", "receipt_id"]).with_columns(
        pl.coalesce(
            pl.col(c).str.extract(p, 1).cast(pl.Int64, strict=False)
            for c in ("memo", "bank_ref")
            for p in _INVOICE_COUNT
        ).alias("n_named")
    )
    if fr.height == 0:
        return Proposal()
    lists = residue_lists(ledger, fr.select(pl.col("c_pay").alias("customer_id")).unique())
    if not lists:
        return Proposal()
    ref_sets: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        refs.join(fr.select("rec_idx"), on="rec_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        ref_sets[ri].add(ii)
    # invoices named by some other receipt still waiting are left for that receipt
    claimed: dict[int, set[int]] = defaultdict(set)
    for ri, ii in (
        refs.join(ledger.fresh_receipts().select("rec_idx"), on="rec_idx", how="semi")
        .select("rec_idx", "inv_idx")
        .iter_rows()
    ):
        claimed[ii].add(ri)
    rows: list[tuple] = []
    suggested: list[tuple] = []
    inv_date, inv_id, inv_open = ledger.inv_date, ledger.inv_id, ledger.inv_open.copy()
    rejected = ledger.rejected
    heads: dict[tuple[str, str], int] = defaultdict(int)  # first possibly open position
    for r in fr.select(
        "rec_idx",
        "receipt_id",
        "currency",
        "amt_c",
        "c_pay",
        "payer_name",
        "payer_method",
        "n_named",
        "value_date",
    ).iter_rows(named=True):
        gk = (r["c_pay"], r["currency"])
        lst = lists.get(gk)
        if not lst or len(lst) < 2:
            continue
        ri = r["rec_idx"]
        refd = ref_sets.get(ri, set())
        # the memo names invoices, none of them open for this payer: not a combination
        named_open = sorted(
            i
            for i in refd
            if inv_open[i] > 0 and ledger.inv_cust[i] == gk[0] and ledger.inv_ccy[i] == gk[1]
        )
        if refd and not named_open:
            continue
        # open invoices only ever decrease: skip the paid head of the list once and for all
        h = heads[gk]
        while h < len(lst) and inv_open[lst[h]] <= 0:
            h += 1
        heads[gk] = h
        open_l = [i for i in named_open if (ri, i) not in rejected]
        named_set = set(open_l)
        amt = r["amt_c"]
        # a memo counting its invoices (付INV0012345等6笔货款): exactly that many, every named
        # one among them, even beyond the usual maximum
        count = r["n_named"] or 0
        forced = 2 <= count <= _COMBINED_HARD_MAX and count >= len(open_l)
        # what an unnamed invoice may fill: beside all named ones (forced), or beside the
        # smallest named one (a combination needs one of them)
        named_amounts = [int(inv_open[i]) for i in open_l]
        room = amt - (sum(named_amounts) if forced else min(named_amounts, default=0))
        # the oldest open invoices that fit, looking at no more than a few times as many
        # open ones as there are candidate places (big customers have thousands open)
        looked = 0
        for i in islice(lst, h, None):  # no copy of a long list per receipt
            if (
                len(open_l) >= cfg.combined_max_candidates
                or looked >= 4 * cfg.combined_max_candidates
            ):
                break
            o = inv_open[i]
            if o > 0 and i not in named_set and (ri, i) not in rejected and not claimed.get(i):
                looked += 1
                if o <= room:
                    open_l.append(i)
        if len(open_l) < 2:
            continue
        open_l.sort(key=lambda i: (0 if i in named_set else 1, inv_date[i], inv_id[i]))
        amounts = [int(inv_open[i]) for i in open_l]
        n_named = len(named_set)
        found: list[list[int]] = []
        complete = True
        if forced:  # room: what the named invoices leave for exactly k more
            k = count - n_named
            if k == 0:
                found = [list(range(n_named))] if room == 0 else []
            else:
                found, complete = subsets(
                    amounts[n_named:], room, 0, k, cfg.combined_max_nodes, kmin=k
                )
                found = [[*range(n_named), *(n_named + x for x in f)] for f in found]
        # no combination of the counted size: what does add up is only a suggestion
        off_count = forced and not found
        if not found:
            kmax = cfg.combined_max_invoices
            if amt > sum(sorted(amounts)[-kmax:]):
                continue
            found, complete = subsets(amounts, amt, 0, kmax, cfg.combined_max_nodes, n_named)
        if len(found) != 1 or not complete or off_count:
            # several combinations fit (or the search was cut short): people decide
            for k, f in enumerate(found):
                ids = "|".join(inv_id[open_l[x]] for x in f)
                suggested.append(
                    (
                        ri,
                        0,
                        r["c_pay"],
                        ids,
                        sum(amounts[x] for x in f),
                        0.5 - 0.05 * k,
                        "combined",
                        f"amount equals the sum of open invoices {ids.replace('|', ', ')}; "
                        + (
                            f"but the memo counts {count} invoices"
                            if off_count
                            else "other combinations also fit"
                            if complete
                            else "search cut short"
                        ),
                    )
                )
            continue
        chosen = [open_l[k] for k in found[0]]
        n_ref = sum(1 for i in chosen if i in named_set)
        sub_rule = "combined.named" if n_ref == len(chosen) else "combined.amount"
        iids = [inv_id[i] for i in chosen]
        reason = (
            f"payer '{short(r['payer_name'], 40)}' is customer {r['c_pay']}; "
            f"amount {fmt_cents(amt)} = open invoices "
            f"{', '.join(iids)} ({len(chosen)} invoices, {n_ref} named in memo), "
            "the only combination that adds up"
        )
        head = (len(rows), 0, r["value_date"], r["receipt_id"], ri)
        for i in chosen:
            o = int(inv_open[i])
            inv_open[i] = 0
            rows.append((*head, i, "cash", o, o, "combined", sub_rule, reason, ""))
    sugg = pl.DataFrame(suggested, schema=SUGGESTION_ROWS, orient="row") if suggested else None
    return Proposal(rows=proposal_rows(rows), suggestions=sugg)


RULE = Rule(
    id="combined",
    switch="combined",
    description="the only combination of 2..k open invoices of the payer that adds up to "
    "the receipt exactly (named invoices first, then the oldest that fit)",
    receipts=Receipts(payer=True),
    propose=propose,
    ties="in_order",
    confidence={"combined.named": 0.9, "combined.amount": 0.8},
    settings=("combined_max_invoices", "combined_max_candidates", "combined_max_nodes"),
)
