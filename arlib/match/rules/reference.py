"""References: receipts naming open invoices in memo / bank_ref.

The invoice numbers found by ``reference_patterns`` (the digits of each match, leading
zeros stripped, compared whole with the invoice's number from ``invoice_key_pattern``, so
'12345' never matches 112345). Equal amount, or within tolerance: ``rounding``,
``discount`` (the customer's ``discount_terms`` like ``2/10 net 30`` when paid within the
window), ``bank_charge`` (short payment up to ``bank_charge_max`` of the currency, not on
an instalment), ``fx_difference`` (another currency at the value-date rate within
``fx_tolerance_pct``), ``write_off`` (short payment up to ``payment_tolerance_pct`` of the
open amount, the boundary included; never an overpayment, an instalment or a keying
error); the difference is its own allocation row. A customer's own reference on the
invoice (``invoice_reference_columns``, e.g. po_number) names it like its number
(:func:`arlib.match.prepare.customer_refs`). A related company (parent,
subsidiary or sibling by ``parent_id``) paying another customer's invoice by reference and
exact amount is applied and flagged ``third_party``. Several named invoices summing to the
amount: ``reference.combined``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.keying import is_keying_error_np
from arlib.match.cascade import (
    PROPOSAL_ROWS,
    Context,
    Proposal,
    Receipts,
    Rule,
    numbered,
    proposal_rows,
)
from arlib.match.frames import basis_points
from arlib.match.prepare import (
    bank_charge_limit,
    cash_with_write_off,
    is_related,
    ref_candidates,
    round_sum,
    with_invoice_customer,
    with_rate,
)
from arlib.match.search import subsets, subsets_many
from arlib.money import fmt_cents_expr, to_cents

#: what explains a named invoice's amount, strongest first (the rank: a tolerance is a policy,
#: not a fact about the payment), and the payer's relation to the invoice's customer
EXPLAINED = ("exact", "rounding", "discount", "bank_charge", "fx_difference", "write_off")
RELATIONS = ("own", "unknown", "related", "other")


def propose_single(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """One named invoice per candidate: exact, or within a tolerance (its own row).

    Most candidates are the payer's own invoice at its exact amount in its currency: those
    are exact without testing the tolerances (:func:`_explained` tests the others), and
    get the plain reason without formatting every other branch's text for them."""
    c = _named_open(ctx, receipts)
    if c.height == 0:
        return Proposal()
    # a write-off only where one receipt names the invoice (two: whose shortfall is it?);
    # the references name each (receipt, invoice) pair once, so receipts are rows
    ii = c.get_column("inv_idx").to_numpy()
    one_payer = np.bincount(ii)[ii] == 1
    simple = (
        c.select(
            (
                pl.col("same")
                & (pl.col("c_pay") == pl.col("c_inv"))
                & (pl.col("amt_c") == pl.col("open_c"))
            ).fill_null(False)
        )
        .to_series()
        .to_numpy()
    )
    hard_at = np.flatnonzero(~simple)
    hard = _explained(ctx, c[hard_at].with_columns(pl.Series("_one_payer", one_payer[hard_at])))
    wo, rel = np.zeros(c.height, dtype=np.int64), np.zeros(c.height, dtype=np.int64)
    conv = c.get_column("amt_c").to_numpy().copy()
    code = {name: k for k, name in enumerate(EXPLAINED)}
    wo[hard_at] = hard.get_column("wo").replace_strict(code, return_dtype=pl.Int64).fill_null(-1)
    code = {name: k for k, name in enumerate(RELATIONS)}
    rel[hard_at] = hard.get_column("rel").replace_strict(code, return_dtype=pl.Int64)
    conv[hard_at] = hard.get_column("conv_c").fill_null(0)
    keep = wo >= 0
    # a short amount that is the named invoice's amount with two digits swapped is a keying
    # error (the exceptions stage classifies it), not a bank charge or rounding
    shortfalls = hard.filter(pl.col("wo").is_in(["rounding", "bank_charge", "write_off"]))
    typo = is_keying_error_np(
        shortfalls.get_column("conv_c").to_numpy(), shortfalls.get_column("open_c").to_numpy()
    )
    if typo.any():
        typo = shortfalls.get_column("rec_idx").filter(pl.Series(typo))
        keep &= ~np.isin(c.get_column("rec_idx").to_numpy(), typo)
    # in the references' order, the cross-currency candidates last
    same = c.get_column("same").to_numpy()
    kept = np.concatenate([np.flatnonzero(keep & same), np.flatnonzero(keep & ~same)])
    if kept.size == 0:
        return Proposal()
    wo, rel = wo[kept], rel[kept]
    # the weakest explanation last: a tolerance is a policy, not a fact about the payment
    c = numbered(
        c.drop("same", "c_pay", "c_inv")[kept].with_columns(
            pl.Series("conv_c", conv[kept]),
            pl.Series(EXPLAINED).gather(wo).alias("wo"),
            # (related or other: a third party)
            pl.Series("rank", wo * 2 + (rel >= RELATIONS.index("related"))),
        )
    )
    # the other candidates' rule ids, details, payers and flags: made for them alone (they
    # are among the tested ones) and put in place
    special = np.flatnonzero((wo != 0) | (rel != 0))
    hard_row = np.full(simple.size, -1, dtype=np.int64)
    hard_row[hard_at] = np.arange(hard_at.size)
    told = _described(ctx, hard[hard_row[kept[special]]])
    plain = {"rule_id": "reference.exact", "detail": "amount equal", "who": "", "flags": ""}
    told = {
        name: pl.repeat(value, c.height, eager=True).scatter(special, told.get_column(name))
        for name, value in plain.items()
    }
    ledger, refs = ctx.ledger, ctx.refs
    at = c.get_column("_ref")
    described = c.with_columns(
        ledger.rec.get_column("receipt_id").gather(c.get_column("rec_idx")),
        pl.lit("reference").alias("rule"),
        told["rule_id"].alias("rule_id"),
        pl.format(
            "{} '{}' names invoice {}; {}{}",
            refs.get_column("src").gather(at),
            _shown(refs.get_column("text").gather(at)),
            ledger.inv.get_column("invoice_id").gather(c.get_column("inv_idx")),
            told["detail"],
            told["who"],
        ).alias("reason"),
        told["flags"].alias("flags"),
    )
    meta = [pl.col(name) for name in ("rule", "rule_id", "reason", "flags")]
    return Proposal(
        rows=cash_with_write_off(
            described,
            applied=pl.col("conv_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.col("wo"),
            write_off=pl.col("open_c") - pl.col("conv_c"),
            write_off_rows=pl.col("wo") != "exact",
            meta=meta,
        )
    )


def _shown(text: pl.Series) -> pl.Series:
    """``text`` on one line, its quotes curly, at most 60 characters: only the texts that
    change are rewritten (most are short, on one line, without quotes)."""
    odd = (text.str.contains_any(["\n", "'"]) | (text.str.len_chars() > 60)).arg_true()
    shown = (
        text.gather(odd)
        .str.replace_all("\n", " ", literal=True)
        .str.replace_all("'", "’", literal=True)
        .str.slice(0, 60)
    )
    return text.scatter(odd, shown)


def _named_open(ctx: Context, receipts: pl.DataFrame) -> pl.DataFrame:
    """:func:`ref_candidates`' rows, narrow: the reference's row (``_ref``), positions,
    value date, amounts, ``same`` currency and the customers (the payer's ``c_pay``, the
    invoice's ``c_inv``); a row without a currency to compare is none."""
    ledger, refs = ctx.ledger, ctx.refs
    rec, inv = ledger.rec, ledger.inv
    wanted = np.zeros(rec.height, dtype=bool)
    wanted[receipts.get_column("rec_idx").to_numpy()] = True
    ri, ii = refs.get_column("rec_idx").to_numpy(), refs.get_column("inv_idx").to_numpy()
    at = np.flatnonzero(wanted[ri] & (ledger.inv_open[ii] > 0))
    c = ledger.drop_rejected(pl.DataFrame({"_ref": at, "rec_idx": ri[at], "inv_idx": ii[at]}))
    r, i = c.get_column("rec_idx"), c.get_column("inv_idx")
    c = c.with_columns(
        *(rec.get_column(name).gather(r) for name in ("value_date", "amt_c")),
        pl.Series("open_c", ledger.inv_open).gather(i),
        (rec.get_column("currency").gather(r) == inv.get_column("currency").gather(i)).alias(
            "same"
        ),
        rec.get_column("c_pay").gather(r),
        inv.get_column("customer_id").gather(i).alias("c_inv"),
    )
    return c.filter(pl.col("same").is_not_null()) if c.get_column("same").null_count() else c


def _explained(ctx: Context, c: pl.DataFrame) -> pl.DataFrame:
    """Candidates of :func:`_named_open` with ``rel`` (the payer's relation to the invoice's
    customer), ``conv_c`` (the receipt in the invoice's currency at the value-date rate,
    exact half-up rounding) and ``wo`` (what explains the amount, :data:`EXPLAINED`; null:
    nothing), with what their texts need; same rows."""
    cfg, ledger = ctx.cfg, ctx.ledger
    rec, inv = ledger.rec, ledger.inv
    r, i = c.get_column("rec_idx"), c.get_column("inv_idx")
    c = c.with_columns(
        *(rec.get_column(name).gather(r) for name in ("inst", "par_pay", "payer_name")),
        rec.get_column("currency").gather(r).alias("r_ccy"),
        inv.get_column("currency").gather(i).alias("i_ccy"),
        inv.get_column("invoice_date").gather(i),
        inv.get_column("amt_c").gather(i).alias("inv_amt_c"),
    ).pipe(with_invoice_customer, ctx.customers)
    rel = (
        pl.when(pl.col("c_pay").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("c_pay") == pl.col("c_inv"))
        .then(pl.lit("own"))
        .when(is_related())
        .then(pl.lit("related"))
        .otherwise(pl.lit("other"))
    )
    c = c.with_columns(rel.alias("rel"))
    # fx conversion (Int128, exact half-up rounding) for the cross-currency rows
    conv = c.get_column("amt_c")
    at = (~c.get_column("same")).arg_true()
    if at.len():
        cross = with_rate(c[at], "r_ccy", "rate_r", ctx.fx, ctx.base_currency, cfg)
        cross = with_rate(cross, "i_ccy", "rate_i", ctx.fx, ctx.base_currency, cfg)
        converted = (
            (pl.col("amt_c").cast(pl.Int128) * pl.col("rate_r") * 2 + pl.col("rate_i"))
            // (2 * pl.col("rate_i"))
        ).cast(pl.Int64)
        conv = conv.scatter(at, cross.select(converted).to_series())
    c = c.with_columns(conv.alias("conv_c"))
    rt = to_cents(cfg.rounding_tolerance)
    bc = bank_charge_limit(cfg, "i_ccy", "open_c")
    same = pl.col("same")
    diff = pl.col("open_c") - pl.col("conv_c")
    disc_c = (pl.col("inv_amt_c") * pl.col("disc_bp") * 2 + 10_000) // 20_000
    disc_ok = (
        pl.col("disc_bp").is_not_null()
        & (pl.col("value_date") <= pl.col("invoice_date") + pl.duration(days=pl.col("disc_days")))
        & ((diff - disc_c).abs() <= rt)
    )
    fx_tol = pl.col("open_c").cast(pl.Decimal(38, 4)) * pl.lit(cfg.fx_tolerance_pct) / 100
    # payment tolerance: short by at most payment_tolerance_pct % of the open amount, exactly
    # (diff * 100 * den <= open * num for the percentage num / den; 98 % paid of 2 % counts)
    tol_num, tol_den = cfg.payment_tolerance_pct.as_integer_ratio()
    within_tolerance = (
        (diff.cast(pl.Int128) * (100 * tol_den)) <= (pl.col("open_c").cast(pl.Int128) * tol_num)
        if tol_num > 0
        else pl.lit(False)
    )
    own = pl.col("rel").is_in(["own", "unknown"])
    kind = (
        pl.when(diff == 0)
        .then(pl.lit("exact"))
        .when(~own)
        .then(pl.lit(None, dtype=pl.String))
        .when(same & (diff.abs() <= rt))
        .then(pl.lit("rounding"))
        .when(same & (diff > 0) & disc_ok)
        .then(pl.lit("discount"))
        .when(
            same
            & (diff > 0)
            & (diff <= bc)
            & ~round_sum(pl.col("conv_c"), pl.col("open_c"))
            & ~pl.col("inst")
            & pl.col("_one_payer")
        )
        .then(pl.lit("bank_charge"))
        .when(~same & (diff.abs().cast(pl.Decimal(38, 4)) <= fx_tol))
        .then(pl.lit("fx_difference"))
        .when(same & (diff > 0) & within_tolerance & ~pl.col("inst") & pl.col("_one_payer"))
        .then(pl.lit("write_off"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return c.with_columns(kind.alias("wo"))


def _described(ctx: Context, c: pl.DataFrame) -> pl.DataFrame:
    """(rule_id, detail, who, flags) of the candidates ``c`` (:func:`_explained`): the
    sub-rule, what explains the amount, who paid whose invoice, the third-party flag."""
    cfg = ctx.cfg
    diff = pl.col("open_c") - pl.col("conv_c")
    sub_rule = (
        pl.when(pl.col("rel") == "related")
        .then(pl.lit("reference.third_party"))
        .when(pl.col("rel") == "other")
        .then(pl.lit("reference.third_party_unrelated"))
        .when(pl.col("rel") == "unknown")
        .then(pl.lit("reference.unknown_payer"))
        .otherwise(pl.format("reference.{}", "wo"))
    )
    detail = {
        "exact": pl.lit("amount equal"),
        "rounding": pl.format("difference {} written off as rounding", fmt_cents_expr(diff)),
        "discount": pl.format(
            "short {} = early-payment discount ({}) paid within {} days",
            fmt_cents_expr(diff),
            "discount_terms",
            "disc_days",
        ),
        "bank_charge": pl.format("short {} written off as bank charge", fmt_cents_expr(diff)),
        "write_off": pl.format(
            "short {} = {}% of the open {}, within the payment tolerance of {}%: written off",
            fmt_cents_expr(diff),
            _pct_of(diff, pl.col("open_c")),
            fmt_cents_expr(pl.col("open_c")),
            pl.lit(f"{cfg.payment_tolerance_pct.normalize():f}"),
        ),
        "fx_difference": pl.format(
            "{} {} at the value-date rate = {} {}; fx difference {}",
            "r_ccy",
            fmt_cents_expr(pl.col("amt_c")),
            "i_ccy",
            fmt_cents_expr(pl.col("conv_c")),
            fmt_cents_expr(diff),
        ),
    }
    who = {
        "related": pl.format(
            "; paid by '{}' (customer {}, related company) for {}",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "c_inv",
        ),
        "other": pl.format(
            "; paid by '{}' (customer {}, no link to {} in the master data): the "
            "invoice number and its exact amount decide",
            pl.col("payer_name").fill_null(""),
            "c_pay",
            "c_inv",
        ),
        "unknown": pl.lit("; payer not identified"),
        "own": pl.lit(""),
    }
    flags = (
        pl.when(pl.col("rel").is_in(["related", "other"]))
        .then(pl.lit("third_party"))
        .otherwise(pl.lit(""))
    )
    return c.select(sub_rule.alias("rule_id"), flags.alias("flags")).with_columns(
        _by_value(c, "wo", detail).alias("detail"), _by_value(c, "rel", who).alias("who")
    )


def _by_value(c: pl.DataFrame, column: str, texts: dict[str, pl.Expr]) -> pl.Series:
    """``texts[value]`` for each row of ``c`` by its ``column``, each text made for its
    own rows only (a when-chain formats every branch for every row)."""
    key = c.get_column(column)
    out = pl.repeat(None, c.height, dtype=pl.String, eager=True)
    for value, text in texts.items():
        at = (key == value).arg_true()
        if at.len():
            out = out.scatter(at, c[at].select(text).to_series())
    return out


def _pct_of(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part`` as a percentage of ``whole`` with two decimals, rounded down (text)."""
    hundredths = (part.cast(pl.Int128) * 10_000 // whole.cast(pl.Int128)).cast(pl.Int64)
    return pl.format("{}.{}", hundredths // 100, (hundredths % 100).cast(pl.String).str.zfill(2))


def propose_combined(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """Several named invoices (own / unidentified payer, same currency) sum to the amount,
    exactly or short by a bank charge (written off on the last of them).

    Receipts in (value_date, receipt_id) order, an applied one paying its invoices for the
    later ones; a receipt naming none of the invoices another one names meets no other, so
    those are searched all at once (:func:`subsets_many`), the others one by one."""
    cfg, ledger = ctx.cfg, ctx.ledger
    c = ref_candidates(ledger, receipts, ctx.refs, ctx.customers).filter(
        pl.col("rel").is_in(["own", "unknown"]) & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    c = c.filter(
        (pl.len().over("rec_idx") >= 2) & (pl.col("c_inv").n_unique().over("rec_idx") == 1)
    )
    if c.height == 0:
        return Proposal()
    g = (
        c.sort(["invoice_date", "invoice_id"])
        .group_by("rec_idx", maintain_order=False)
        .agg("receipt_id", "value_date", "amt_c", "r_ccy", "src", "text", "rel", "inv_idx")
        .sort(["value_date", "receipt_id"])
    )
    heads = g.select(
        "rec_idx", *(pl.col(k).list.first() for k in ("receipt_id", "value_date", "amt_c", "r_ccy"))
    )
    n = g.get_column("inv_idx").list.len().to_numpy().astype(np.int64)
    off = np.concatenate([[0], np.cumsum(n)])
    inv = g.get_column("inv_idx").explode().to_numpy()
    amt = heads.get_column("amt_c").to_numpy()
    bank = {k: cfg.bank_charge_cents(k) for k in heads.get_column("r_ccy").unique().to_list()}
    bcm = np.array([bank[k] for k in heads.get_column("r_ccy").to_list()], dtype=np.int64)
    pct_bp = basis_points(cfg.bank_charge_max_pct)
    kmax, nodes = cfg.combined_max_invoices, cfg.combined_max_nodes
    inv_open = ledger.inv_open.copy()
    sol: dict[int, np.ndarray] = {}  # receipt (row of g) -> the invoices it pays
    # receipts naming an invoice another one names too: one by one, in order
    owner = np.repeat(np.arange(g.height), n)
    shared = np.zeros(g.height, dtype=bool)
    shared[owner[np.bincount(inv, minlength=inv_open.size)[inv] > 1]] = True
    for t in np.flatnonzero(shared).tolist():
        idxs = [int(i) for i in inv[off[t] : off[t + 1]] if inv_open[i] > 0]
        amounts = [int(inv_open[i]) for i in idxs]
        for tol in (0, int(bcm[t])) if bcm[t] > 0 else (0,):
            found, complete = subsets(amounts, int(amt[t]), tol, kmax, nodes)
            if found or not complete:
                # the only combination of the named invoices, or nothing (people decide)
                if len(found) == 1 and complete:
                    total = sum(amounts[k] for k in found[0])
                    if total - amt[t] <= total * pct_bp // 10_000:
                        sol[t] = np.array([idxs[k] for k in found[0]], dtype=np.int64)
                        inv_open[sol[t]] = 0
                break
    # the others at once: exactly, then (where nothing adds up) short by a bank charge
    left = np.flatnonzero(~shared)
    for tol in (0, 1):
        if tol:
            left = left[np.take(bcm, left) > 0]
        if left.size == 0:
            break
        m = np.take(n, left)
        o, j = np.repeat(np.arange(left.size), m), np.arange(m.sum())
        j -= np.repeat(np.cumsum(m) - m, m)
        found, complete = subsets_many(
            np.take(inv_open, np.take(inv, np.take(off, left)[o] + j)),
            np.concatenate([[0], np.cumsum(m)]),
            np.take(amt, left),
            np.take(bcm, left) if tol else 0,
            kmax,
            nodes,
        )
        for u, combos in found.items():
            if len(combos) == 1 and complete[u]:
                t = int(left[u])
                paid = inv[off[t] + np.asarray(combos[0], dtype=np.int64)]
                total = int(inv_open[paid].sum())
                if total - amt[t] <= total * pct_bp // 10_000:
                    sol[t] = paid
        decided = ~complete  # cut short: nothing, people decide
        decided[list(found)] = True
        left = left[~decided]
    if not sol:
        return Proposal(rows=proposal_rows([]))
    # rows: a cash row per invoice, the shortfall written off on the last one
    ts = sorted(sol)
    chosen = [sol[t] for t in ts]
    size = np.array([x.size for x in chosen], dtype=np.int64)
    chosen_inv = np.concatenate(chosen)
    o = ledger.inv_open[chosen_inv]
    who = np.repeat(np.arange(len(ts)), size)
    total = np.bincount(who, weights=o, minlength=len(ts)).astype(np.int64)
    short_c = total - np.take(amt, ts)
    last = np.cumsum(size) - 1
    wo = np.zeros(o.size, dtype=np.int64)
    wo[last] = short_c
    has_wo = np.flatnonzero(wo > 0)
    row_who = np.concatenate([who, who[has_wo]])
    row_inv = np.concatenate([chosen_inv, chosen_inv[has_wo]])
    row_kind = np.concatenate(
        [np.zeros(o.size, dtype=np.int64), np.ones(has_wo.size, dtype=np.int64)]
    )
    row_applied = np.concatenate([o - wo, wo[has_wo]])
    row_cash = np.concatenate([o - wo, np.zeros(has_wo.size, dtype=np.int64)])
    row_at = np.concatenate([np.arange(o.size), has_wo])
    order = np.lexsort((row_kind, row_at))
    n_rows = size + (short_c > 0)
    per = (
        g[ts]
        .select(
            pl.col("src").list.first(),
            pl.col("text").list.first(),
            pl.col("rel").list.first(),
            pl.col("receipt_id").list.first(),
            pl.col("value_date").list.first(),
            "rec_idx",
        )
        .with_columns(
            proposal=pl.Series(np.concatenate([[0], np.cumsum(n_rows)[:-1]])),
            ids=pl.DataFrame(
                {"t": who, "id": ledger.inv.get_column("invoice_id").gather(chosen_inv)}
            )
            .group_by("t", maintain_order=True)
            .agg(pl.col("id").str.join(", "))
            .get_column("id"),
            total=pl.Series(total),
            shortfall=pl.Series(short_c),
        )
    )
    text = pl.col("text").fill_null("").str.replace_all("\n", " ", literal=True)
    text = text.str.replace_all("'", "’", literal=True)
    text = (
        pl.when(text.str.len_chars() <= 60)
        .then(text)
        .otherwise(text.str.slice(0, 59) + pl.lit("…"))
    )
    per = per.select(
        "proposal",
        "value_date",
        "receipt_id",
        "rec_idx",
        pl.when(pl.col("rel") == "own")
        .then(pl.lit("reference.combined"))
        .otherwise(pl.lit("reference.combined_unknown_payer"))
        .alias("rule_id"),
        pl.format(
            "{} '{}' names invoices {}; their open amounts sum to {}{}",
            "src",
            text,
            "ids",
            fmt_cents_expr("total"),
            pl.when(pl.col("shortfall") == 0)
            .then(pl.lit("; amount equal"))
            .otherwise(
                pl.format("; short {} written off as bank charge", fmt_cents_expr("shortfall"))
            ),
        ).alias("reason"),
    )
    rows = per[row_who[order].tolist()].with_columns(
        rank=pl.lit(0, dtype=pl.Int64),
        inv_idx=pl.Series(row_inv[order]),
        kind=pl.Series(np.array(["cash", "bank_charge"])[row_kind[order]]),
        applied_c=pl.Series(row_applied[order]),
        receipt_c=pl.Series(row_cash[order]),
        rule=pl.lit("reference"),
        flags=pl.lit(""),
    )
    return Proposal(rows=rows.select(list(PROPOSAL_ROWS)).cast(PROPOSAL_ROWS))


RULES = (
    Rule(
        id="reference",
        switch="reference",
        description="a receipt naming one open invoice with its exact amount, whoever pays "
        "(another customer: flagged third_party); or, paid by the invoice's own customer or an "
        "unidentified payer, within rounding, the customer's discount, a bank charge, the "
        "fx tolerance or the payment tolerance (short payments only)",
        receipts=Receipts(reserved=True, references="with"),
        propose=propose_single,
        ties="unique",
        confidence={
            "reference.exact": 1.0,
            "reference.rounding": 0.95,
            "reference.discount": 0.95,
            "reference.bank_charge": 0.95,
            "reference.fx_difference": 0.95,
            "reference.write_off": 0.9,
            "reference.third_party": 0.9,
            "reference.third_party_unrelated": 0.85,
            "reference.unknown_payer": 0.9,
        },
        settings=(
            "reference_patterns",
            "reference_columns",
            "invoice_key_pattern",
            "reference_min_digits",
            "reference_short_own",
            "invoice_reference_columns",
            "unique_reference_only",
            "rounding_tolerance",
            "bank_charge_max",
            "bank_charge_max_pct",
            "fx_tolerance_pct",
            "fx_max_rate_age_days",
            "payment_tolerance_pct",
        ),
    ),
    Rule(
        id="reference.combined",
        switch="reference",
        description="a receipt naming several open invoices of one customer whose open "
        "amounts add up to it (the only such combination), exactly or short by a bank charge",
        receipts=Receipts(reserved=True, references="with"),
        propose=propose_combined,
        ties="in_order",
        confidence={"reference.combined": 0.95, "reference.combined_unknown_payer": 0.85},
        settings=(
            "combined_max_invoices",
            "combined_max_nodes",
            "bank_charge_max",
            "unique_reference_only",
        ),
    ),
)
