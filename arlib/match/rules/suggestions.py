"""Suggestions: anything weaker than an automatic rule, ranked per receipt, never applied.

A fuzzy payer below the auto threshold, a near amount, several equal candidates, a
decimal-shifted or transposed amount, a reference with the wrong amount or another
customer's invoice, the combinations that also fit (from ``combined``). A payer who is one
of several candidate customers (:mod:`arlib.match.rules.candidates`) gets the near amounts
and keying errors of each of them; an unidentified payer the few invoices of its amount.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.keying import keying_error_expr, transpositions_expr
from arlib.match.cascade import Context, Proposal, Receipts, Rule
from arlib.match.frames import SUGGESTION_ROWS, basis_points, range_join
from arlib.match.prepare import ref_candidates
from arlib.money import fmt_cents_expr

#: amounts of up to this many digits (in cents) are searched for dropped or doubled digits
_SLIP_DIGITS = 12


def _digit_slips(keyed: pl.DataFrame) -> pl.DataFrame:
    """``keyed`` with ``open_c``, one row per amount its ``amt_c`` could be with one digit
    dropped (every digit inserted at every place) or doubled (one of two equal neighbours
    removed): the invoices a receipt's amount may be a slip of, for an equality join (the
    keying check then confirms each pair). Integer arithmetic on all receipts at once, in
    the order of the places and digits; amounts of 10**17 cents or more get none (their
    variants would not fit an Int64)."""
    x = keyed.get_column("amt_c").to_numpy().astype(np.int64)
    powers = 10 ** np.arange(19, dtype=np.int64)
    n = np.maximum(1, np.searchsorted(powers, x, side="right"))  # digits of x
    fits = n < 18
    variants, valid = [], []
    for at in range(_SLIP_DIGITS + 1):  # a digit inserted before the at-th (0: in front)
        right = powers[np.clip(n - at, 0, 18)]
        for digit in range(10):
            if at == 0 and digit == 0:
                continue
            variants.append((x // right * 10 + digit) * right + x % right)
            valid.append(fits & (n >= at))
    for at in range(_SLIP_DIGITS - 1):  # the at-th digit, equal to the next, removed
        k = np.clip(n - at, 2, 18)
        same = (x // powers[k - 1]) % 10 == (x // powers[k - 2]) % 10
        variants.append(x // powers[k] * powers[k - 1] + x % powers[k - 1])
        valid.append(fits & (n > at + 1) & same)
    flat = np.flatnonzero(np.stack(valid, axis=1).ravel())
    values = np.stack(variants, axis=1).ravel()[flat]
    return keyed[flat // len(variants)].with_columns(pl.Series("open_c", values))


def propose(ctx: Context, receipts: pl.DataFrame) -> Proposal:
    cfg, ledger, fr = ctx.cfg, ctx.ledger, receipts
    oi = ledger.open_invoices()
    parts: list[pl.DataFrame] = []
    inv_cols = oi.select(
        "inv_idx", "invoice_id", "customer_id", "currency", "open_c", "invoice_date"
    )

    def emit(df: pl.DataFrame, score: pl.Expr, rule: str, reason: pl.Expr) -> None:
        if df.height:
            parts.append(
                df.select(
                    "rec_idx",
                    pl.lit(0, dtype=pl.Int64).alias("rank"),
                    "customer_id",
                    pl.col("invoice_id").alias("invoice_ids"),
                    pl.col("open_c").alias("amount_c"),
                    score.cast(pl.Float64).alias("score"),
                    pl.lit(rule).alias("rule"),
                    reason.alias("reason"),
                )
            )

    resolved = fr.filter(pl.col("c_pay").is_not_null()).select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        pl.col("c_pay").alias("customer_id"),
    )
    # a payer who is one of several candidate customers: each of them, for near amounts and
    # keying errors (the exact amounts are the candidates rule's suggestions)
    with_cands = fr.filter(pl.col("c_pay").is_null() & (pl.col("candidates").list.len() > 0))
    candidates = with_cands.select(
        "rec_idx",
        "receipt_id",
        "value_date",
        "currency",
        "amt_c",
        pl.col("candidates").alias("customer_id"),
    ).explode("customer_id")
    someone = pl.concat([resolved, candidates])
    # several equal candidates (or the only one outside the date window): an equality join
    eq = ledger.drop_rejected(
        resolved.join(
            inv_cols.with_columns(pl.col("open_c").alias("amt_c")),
            on=["customer_id", "currency", "amt_c"],
        )
    )
    eq = eq.with_columns(pl.len().over("rec_idx").alias("n"))
    emit(
        eq,
        pl.when(pl.col("n") == 1).then(0.6).otherwise(0.5 / pl.col("n").cast(pl.Float64) + 0.2),
        "exact_amount",
        pl.when(pl.col("n") == 1)
        .then(
            pl.format(
                "amount equals invoice {} of the payer, its only such open invoice; not applied "
                "automatically (another receipt claims it, or this receipt is held back as a "
                "possible duplicate or carried-in cash)",
                "invoice_id",
            )
        )
        .otherwise(
            pl.format(
                "amount equals {} open invoices of customer {}; which one is a person's call",
                "n",
                "customer_id",
            )
        ),
    )
    # near amount: the closest few below and above (a sorted search, not a per-customer
    # cartesian product)
    pct_bp = basis_points(cfg.suggest_near_pct)
    k = cfg.suggest_max_candidates
    near = pl.concat(
        [
            range_join(
                someone,
                inv_cols,
                ["customer_id", "currency"],
                "open_c",
                pl.col("amt_c") * 10_000 // (10_000 + pct_bp),
                pl.col("amt_c") - 1,
                cap=k,
                from_end=True,
            ),
            range_join(
                someone,
                inv_cols,
                ["customer_id", "currency"],
                "open_c",
                pl.col("amt_c") + 1,
                pl.col("amt_c") * 10_000 // max(1, 10_000 - pct_bp),
                cap=k,
            ),
        ]
    ).drop("_n_in_range")
    near = ledger.drop_rejected(near)
    d = (pl.col("open_c") - pl.col("amt_c")).abs()
    lim = pl.col("open_c").cast(pl.Float64) * float(cfg.suggest_near_pct) / 100
    near = near.filter((d > 0) & (d.cast(pl.Float64) <= lim))
    emit(
        near,
        0.15 + 0.3 * (1 - d.cast(pl.Float64) / lim),
        "near_amount",
        pl.format(
            "amount {} is {} away from invoice {} (open {})",
            fmt_cents_expr(pl.col("amt_c")),
            fmt_cents_expr(d),
            "invoice_id",
            fmt_cents_expr(pl.col("open_c")),
        ),
    )
    # keying errors: the amounts the receipt's could be a shift (x10, x100, /10, /100,
    # truncated or rounded) or a transposition of, found by joins and sorted searches
    keyed = someone.select("rec_idx", "customer_id", "currency", "amt_c")
    variants = pl.concat(
        [
            keyed.with_columns(
                pl.concat_list(transpositions_expr(pl.col("amt_c"), 12)).alias("open_c")
            ).explode("open_c"),
            *(
                keyed.filter(pl.col("amt_c") % f == 0).with_columns(
                    (pl.col("amt_c") // f).alias("open_c")
                )
                for f in (10, 100)
            ),
            _digit_slips(keyed),
        ]
    ).drop_nulls("open_c")
    exact = variants.join(inv_cols, on=["customer_id", "currency", "open_c"])
    ranged = [
        range_join(
            keyed,
            inv_cols,
            ["customer_id", "currency"],
            "open_c",
            pl.col("amt_c") * f - (f - 1),
            pl.col("amt_c") * f + (f - 1),
            cap=k,
        ).drop("_n_in_range")
        for f in (10, 100)
    ]
    vj = ledger.drop_rejected(pl.concat([exact, *ranged], how="diagonal_relaxed"))
    vj = vj.with_columns(keying_error_expr(pl.col("amt_c"), pl.col("open_c")).alias("what")).filter(
        pl.col("what").is_not_null()
    )
    emit(
        vj,
        pl.lit(0.45),
        "amount_typo",
        pl.format(
            "received {} looks like invoice {} (open {}) keyed wrongly ({})",
            fmt_cents_expr(pl.col("amt_c")),
            "invoice_id",
            fmt_cents_expr(pl.col("open_c")),
            pl.col("what").str.replace("_", " "),
        ),
    )
    # exact amounts at a candidate customer (a receipt the candidates rule could not apply:
    # reserved, or the invoice went to another receipt)
    ceq = ledger.drop_rejected(
        candidates.join(
            inv_cols.with_columns(pl.col("open_c").alias("amt_c")),
            on=["customer_id", "currency", "amt_c"],
        )
    ).with_columns(pl.len().over("rec_idx").alias("n"))
    emit(
        ceq,
        0.5 / pl.col("n").cast(pl.Float64) + 0.2,
        "candidates",
        pl.format(
            "amount equals invoice {} of customer {}, one of the payer's candidate customers",
            "invoice_id",
            "customer_id",
        ),
    )
    # fuzzy payer candidate (suggestions only) with exact amount
    no_cands = pl.col("candidates").list.len().fill_null(0) == 0
    fz = fr.filter(
        pl.col("c_pay").is_null() & pl.col("candidate_id").is_not_null() & no_cands
    ).select(
        "rec_idx",
        "currency",
        "amt_c",
        "payer_name",
        pl.col("candidate_id").alias("customer_id"),
        "candidate_score",
    )
    fzj = ledger.drop_rejected(
        fz.join(
            inv_cols.with_columns(pl.col("open_c").alias("amt_c")),
            on=["customer_id", "currency", "amt_c"],
        )
    )
    emit(
        fzj,
        0.7 * pl.col("candidate_score"),
        "fuzzy_payer",
        pl.format(
            "payer '{}' resembles customer {} (score {}); amount equals invoice {}",
            pl.col("payer_name").fill_null(""),
            "customer_id",
            pl.col("candidate_score").round(2),
            "invoice_id",
        ),
    )
    # unidentified payer, amount shared by few open invoices overall
    unk = fr.filter(pl.col("c_pay").is_null() & no_cands).select("rec_idx", "currency", "amt_c")
    few = inv_cols.with_columns(pl.len().over(["currency", "open_c"]).alias("n")).filter(
        pl.col("n") <= cfg.suggest_max_candidates
    )
    uj = ledger.drop_rejected(
        unk.join(few, left_on=["currency", "amt_c"], right_on=["currency", "open_c"]).with_columns(
            pl.col("amt_c").alias("open_c")
        )
    )
    emit(
        uj,
        pl.lit(0.3),
        "amount_only",
        pl.format(
            "payer not identified; amount equals invoice {} of customer {}",
            "invoice_id",
            "customer_id",
        ),
    )
    # references that could not be applied
    rc = ref_candidates(ledger, fr, ctx.refs, ctx.customers)
    rc = rc.with_columns(pl.col("c_inv").alias("customer_id"))
    held = pl.col("rec_idx").is_in(np.flatnonzero(ledger.held).tolist())
    emit(
        rc,
        pl.when(pl.col("rel").is_in(["own", "unknown"]))
        .then(0.55)
        .when(pl.col("rel") == "related")
        .then(0.45)
        .otherwise(0.4),
        "reference",
        pl.when(held)
        .then(
            pl.format(
                "{} names invoice {} of customer {} (open {} {}), one of several open invoices "
                "the same reference names: not applied automatically (unique_reference_only); "
                "the receipt is {} {}",
                "src",
                "invoice_id",
                "c_inv",
                "i_ccy",
                fmt_cents_expr(pl.col("open_c")),
                "r_ccy",
                fmt_cents_expr(pl.col("amt_c")),
            )
        )
        .otherwise(
            pl.format(
                "{} names invoice {} of customer {} (open {} {}) but the receipt is {} {}{}",
                "src",
                "invoice_id",
                "c_inv",
                "i_ccy",
                fmt_cents_expr(pl.col("open_c")),
                "r_ccy",
                fmt_cents_expr(pl.col("amt_c")),
                pl.when(pl.col("rel") == "other")
                .then(pl.format(" from customer {}", "c_pay"))
                .otherwise(pl.lit("")),
            )
        ),
    )
    if not parts:
        return Proposal()
    return Proposal(suggestions=pl.concat(parts).cast(SUGGESTION_ROWS))


def ranked(parts: list[pl.DataFrame], cfg) -> pl.DataFrame:
    """All suggestions of the run, one per (receipt, invoices) -- the best scored -- ranked
    per receipt by score, at most ``suggest_max_candidates``."""
    if not parts:
        return pl.DataFrame(schema=SUGGESTION_ROWS)
    s = pl.concat(parts).cast(SUGGESTION_ROWS)
    # the reason last: two suggestions of the same invoices, score and rule (a memo and a
    # bank reference naming the same invoice) keep the same one whatever the input order
    s = s.sort(
        ["rec_idx", "invoice_ids", "score", "rule", "reason"],
        descending=[False, False, True, False, False],
    ).unique(["rec_idx", "invoice_ids"], keep="first", maintain_order=True)
    s = s.sort(["rec_idx", "score", "invoice_ids"], descending=[False, True, False])
    s = s.with_columns(
        (pl.int_range(pl.len()).over("rec_idx") + 1).cast(pl.Int64).alias("rank")
    ).filter(pl.col("rank") <= cfg.suggest_max_candidates)
    return s


RULE = Rule(
    id="suggestions",
    switch="suggestions",
    description="what is left: equal amounts of several invoices, near amounts, keying "
    "errors, fuzzy payers, references that did not fit -- ranked suggestions, never applied",
    receipts=Receipts(reserved=True, held=True),
    propose=propose,
    ties="in_order",
    confidence={},
    settings=("suggest_near_pct", "suggest_max_candidates", "fuzzy_suggest_threshold"),
)
