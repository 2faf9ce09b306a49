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

import polars as pl

from arlib.match.cascade import Context, Proposal, Receipts, Rule, numbered, proposal_rows
from arlib.match.frames import basis_points, short
from arlib.match.prepare import (
    bank_charge_limit,
    cash_with_write_off,
    is_keying_error,
    ref_candidates,
    ref_text,
    round_sum,
    with_rate,
)
from arlib.match.search import subsets
from arlib.money import fmt_cents, fmt_cents_expr, to_cents


def propose_single(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """One named invoice per candidate: exact, or within a tolerance (its own row)."""
    cfg, fx, base = ctx.cfg, ctx.fx, ctx.base_currency
    c = ref_candidates(ctx.ledger, receipts, ctx.refs, ctx.customers)
    if c.height == 0:
        return Proposal()
    rt = to_cents(cfg.rounding_tolerance)
    bc = bank_charge_limit(cfg, "i_ccy", "open_c")
    same = pl.col("r_ccy") == pl.col("i_ccy")
    # fx conversion (Int128, exact half-up rounding) for the cross-currency rows
    cross = c.filter(~same).with_columns(pl.lit(None, dtype=pl.Int64).alias("conv_c"))
    if cross.height:
        cross = cross.drop("conv_c")
        cross = with_rate(cross, "r_ccy", "rate_r", fx, base, cfg)
        cross = with_rate(cross, "i_ccy", "rate_i", fx, base, cfg)
        cross = cross.with_columns(
            (
                (pl.col("amt_c").cast(pl.Int128) * pl.col("rate_r") * 2 + pl.col("rate_i"))
                // (2 * pl.col("rate_i"))
            )
            .cast(pl.Int64)
            .alias("conv_c")
        ).drop("rate_r", "rate_i")
    c = pl.concat(
        [c.filter(same).with_columns(pl.col("amt_c").alias("conv_c")), cross],
        how="vertical_relaxed",
    )
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
    # the weakest explanation last: a tolerance is a policy, not a fact about the payment
    prio = pl.col("wo").replace_strict(
        {
            "exact": 0,
            "rounding": 1,
            "discount": 2,
            "bank_charge": 3,
            "fx_difference": 4,
            "write_off": 5,
        },
        return_dtype=pl.Int64,
    ) * 2 + pl.col("rel").is_in(["related", "other"]).cast(pl.Int64)
    # a write-off only where one receipt names the invoice (two: whose shortfall is it?)
    c = c.with_columns((pl.col("rec_idx").n_unique().over("inv_idx") == 1).alias("_one_payer"))
    c = c.with_columns(kind.alias("wo"), disc_c.alias("disc_c")).filter(pl.col("wo").is_not_null())
    # a short amount that is the named invoice's amount with two digits swapped is a keying
    # error (the exceptions stage classifies it), not a bank charge or rounding
    wo_rows = c.filter(pl.col("wo").is_in(["rounding", "bank_charge", "write_off"]))
    if wo_rows.height:
        typo = wo_rows.filter(is_keying_error("conv_c", "open_c")).select("rec_idx").unique()
        c = c.join(typo, on="rec_idx", how="anti")
    if c.height == 0:
        return Proposal()
    uniq = numbered(c.with_columns(prio.alias("rank"))).with_columns(
        pl.col("text")
        .str.replace_all("\n", " ")
        .str.replace_all("'", "’")
        .str.slice(0, 60)
        .alias("text_s")
    )
    sub_rule = (
        pl.when(pl.col("rel") == "related")
        .then(pl.lit("reference.third_party"))
        .when(pl.col("rel") == "other")
        .then(pl.lit("reference.third_party_unrelated"))
        .when(pl.col("rel") == "unknown")
        .then(pl.lit("reference.unknown_payer"))
        .otherwise(pl.format("reference.{}", "wo"))
    )
    detail = (
        pl.when(pl.col("wo") == "exact")
        .then(pl.lit("amount equal"))
        .when(pl.col("wo") == "rounding")
        .then(pl.format("difference {} written off as rounding", fmt_cents_expr(diff)))
        .when(pl.col("wo") == "discount")
        .then(
            pl.format(
                "short {} = early-payment discount ({}) paid within {} days",
                fmt_cents_expr(diff),
                "discount_terms",
                "disc_days",
            )
        )
        .when(pl.col("wo") == "bank_charge")
        .then(pl.format("short {} written off as bank charge", fmt_cents_expr(diff)))
        .when(pl.col("wo") == "write_off")
        .then(
            pl.format(
                "short {} = {}% of the open {}, within the payment tolerance of {}%: written off",
                fmt_cents_expr(diff),
                _pct_of(diff, pl.col("open_c")),
                fmt_cents_expr(pl.col("open_c")),
                pl.lit(f"{cfg.payment_tolerance_pct.normalize():f}"),
            )
        )
        .otherwise(
            pl.format(
                "{} {} at the value-date rate = {} {}; fx difference {}",
                "r_ccy",
                fmt_cents_expr(pl.col("amt_c")),
                "i_ccy",
                fmt_cents_expr(pl.col("conv_c")),
                fmt_cents_expr(diff),
            )
        )
    )
    who = (
        pl.when(pl.col("rel") == "related")
        .then(
            pl.format(
                "; paid by '{}' (customer {}, related company) for {}",
                pl.col("payer_name").fill_null(""),
                "c_pay",
                "c_inv",
            )
        )
        .when(pl.col("rel") == "other")
        .then(
            pl.format(
                "; paid by '{}' (customer {}, no link to {} in the master data): the "
                "invoice number and its exact amount decide",
                pl.col("payer_name").fill_null(""),
                "c_pay",
                "c_inv",
            )
        )
        .when(pl.col("rel") == "unknown")
        .then(pl.lit("; payer not identified"))
        .otherwise(pl.lit(""))
    )
    flags = (
        pl.when(pl.col("rel").is_in(["related", "other"]))
        .then(pl.lit("third_party"))
        .otherwise(pl.lit(""))
    )

    def described(df: pl.DataFrame, detail: pl.Expr, who: pl.Expr) -> pl.DataFrame:
        return df.with_columns(
            pl.lit("reference").alias("rule"),
            sub_rule.alias("rule_id"),
            pl.format("{}; {}{}", ref_text(), detail, who).alias("reason"),
            flags.alias("flags"),
        )

    # the payer's own invoice at its exact amount (most rows): the plain reason, without
    # formatting every other branch's text for them
    plain = (pl.col("wo") == "exact") & (pl.col("rel") == "own")
    described_rows = pl.concat(
        [
            described(uniq.filter(plain), pl.lit("amount equal"), pl.lit("")),
            described(uniq.filter(~plain), detail, who),
        ]
    ).sort("proposal")
    meta = [pl.col(name) for name in ("rule", "rule_id", "reason", "flags")]
    return Proposal(
        rows=cash_with_write_off(
            described_rows,
            applied=pl.col("conv_c"),
            received=pl.col("amt_c"),
            write_off_kind=pl.col("wo"),
            write_off=diff,
            write_off_rows=pl.col("wo") != "exact",
            meta=meta,
        )
    )


def _pct_of(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part`` as a percentage of ``whole`` with two decimals, rounded down (text)."""
    hundredths = (part.cast(pl.Int128) * 10_000 // whole.cast(pl.Int128)).cast(pl.Int64)
    return pl.format("{}.{}", hundredths // 100, (hundredths % 100).cast(pl.String).str.zfill(2))


def propose_combined(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    """Several named invoices (own / unidentified payer, same currency) sum to the amount,
    exactly or short by a bank charge (written off on the last of them)."""
    cfg, ledger = ctx.cfg, ctx.ledger
    c = ref_candidates(ledger, receipts, ctx.refs, ctx.customers).filter(
        pl.col("rel").is_in(["own", "unknown"]) & (pl.col("r_ccy") == pl.col("i_ccy"))
    )
    c = c.filter(
        (pl.len().over("rec_idx") >= 2) & (pl.col("c_inv").n_unique().over("rec_idx") == 1)
    )
    if c.height == 0:
        return Proposal()
    inv_open = ledger.inv_open.copy()
    g = (
        c.sort(["invoice_date", "invoice_id"])
        .group_by("rec_idx", maintain_order=False)
        .agg(
            "receipt_id",
            "value_date",
            "amt_c",
            "r_ccy",
            "src",
            "text",
            "payer_method",
            "payer_score",
            "rel",
            pl.col("inv_idx"),
            pl.col("invoice_id").alias("iids"),
        )
        .sort(["value_date", "receipt_id"])
    )
    rows: list[tuple] = []
    for r in g.iter_rows(named=True):
        ri = r["rec_idx"]
        amt = int(r["amt_c"][0])
        idxs = [i for i in r["inv_idx"] if inv_open[i] > 0]
        amounts = [int(inv_open[i]) for i in idxs]
        bcm = cfg.bank_charge_cents(r["r_ccy"][0])
        pct_bp = basis_points(cfg.bank_charge_max_pct)
        sol = None
        for tol in (0, bcm) if bcm > 0 else (0,):
            found, complete = subsets(
                amounts, amt, tol, cfg.combined_max_invoices, cfg.combined_max_nodes
            )
            if found or not complete:
                # the only combination of the named invoices, or nothing (people decide)
                if len(found) == 1 and complete:
                    sol = found[0]
                break
        if sol is None:
            continue
        if sum(amounts[k] for k in sol) - amt > sum(amounts[k] for k in sol) * pct_bp // 10_000:
            continue
        chosen = [idxs[k] for k in sol]
        total = sum(amounts[k] for k in sol)
        shortfall = total - amt
        iids = [ledger.inv_id[i] for i in chosen]
        text = short(r["text"][0])
        sub_rule = (
            "reference.combined" if r["rel"][0] == "own" else "reference.combined_unknown_payer"
        )
        reason = (
            f"{r['src'][0]} '{text}' names invoices {', '.join(iids)}; "
            f"their open amounts sum to {fmt_cents(total)}"
        )
        reason += (
            "; amount equal"
            if shortfall == 0
            else f"; short {fmt_cents(shortfall)} written off as bank charge"
        )
        head = (len(rows), 0, r["value_date"][0], r["receipt_id"][0], ri)
        for n, i in enumerate(chosen):
            o = int(inv_open[i])
            wo = shortfall if (n == len(chosen) - 1 and shortfall) else 0
            inv_open[i] = 0
            rows.append((*head, i, "cash", o - wo, o - wo, "reference", sub_rule, reason, ""))
            if wo:
                rows.append((*head, i, "bank_charge", wo, 0, "reference", sub_rule, reason, ""))
    return Proposal(rows=proposal_rows(rows))


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
