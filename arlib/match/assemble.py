"""The matching stage's output frames, built from the ledger once every rule has run."""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.findings import FINDING_SCHEMA
from arlib.match.cascade import Outcome
from arlib.match.frames import ALLOCATION_SCHEMA, KINDS, SUGGESTION_SCHEMA, MatchResult
from arlib.match.ledger import Ledger
from arlib.money import money_expr


def assemble(
    ledger: Ledger,
    inv0: pl.DataFrame,
    rec0: pl.DataFrame,
    refs: pl.DataFrame,
    payers: pl.DataFrame,
    sugg: pl.DataFrame,
    outcome: Outcome,
    credit_notes: pl.DataFrame,
) -> MatchResult:
    """The stage's output frames from the ledger, after proving conservation."""
    inv, rec = ledger.inv, ledger.rec
    alloc = ledger.verify()
    # memo_conflict: a non-reference allocation of a receipt whose memo names invoices, none
    # of which it was applied to (receipt and invoice pairs as one integer, by position)
    flagged = pl.Series(memo_conflicts(alloc, refs, rec.height, inv.height)).gather(
        alloc.get_column("rec_idx")
    )
    conflict = flagged.fill_null(False) & ~alloc.get_column("rule").is_in(
        ["reference", "manual", "credit_note"]
    )
    alloc = edited(
        alloc,
        conflict.arg_true(),
        pl.when(pl.col("flags") == "")
        .then(pl.lit("memo_conflict"))
        .otherwise(pl.col("flags") + "|memo_conflict")
        .alias("flags"),
        (pl.col("reason") + "; the memo names a different invoice (memo_conflict)").alias("reason"),
    )

    # a payer who was one of several candidate customers: the customer whose invoice the
    # receipt paid (the only one among its cash rows, and one of the candidates); the
    # reference rule's reason says so (decided: one row per receipt)
    decided = decided_customers(alloc, inv, rec)
    note_at = np.full(rec.height + 1, -1, dtype=np.int64)  # (the last: no receipt)
    note_at[decided.get_column("rec_idx").to_numpy()] = np.arange(decided.height)
    at = note_at[alloc.get_column("rec_idx").fill_null(rec.height).to_numpy()]
    noted = (
        alloc.get_column("rec_idx").is_not_null() & (alloc.get_column("rule") == "reference")
    ).to_numpy() & (at >= 0)
    rows = np.flatnonzero(noted)
    note = decided.get_column("_note").gather(at[rows])
    alloc = edited(alloc, pl.Series(rows), (pl.col("reason") + note).alias("reason"))

    inv_open, rec_rem = ledger.inv_open, ledger.rec_rem

    # allocations output, sorted by (receipt_id, invoice_id, kind, rule) from integers; inv_idx
    # and rec_idx are positions, numbered in invoice_id / receipt_id order: gathers, not joins
    alloc = alloc[allocation_order(alloc, rec.get_column("receipt_id"))]
    ii, ri = alloc.get_column("inv_idx"), alloc.get_column("rec_idx")
    out_alloc = (
        alloc.with_columns(
            inv.get_column("invoice_id").gather(ii),
            inv.get_column("customer_id").gather(ii),
            inv.get_column("currency").gather(ii),
            rec.get_column("currency").gather(ri).alias("receipt_currency"),
        )
        .select(
            "receipt_id",
            "invoice_id",
            "customer_id",
            money_expr(pl.col("applied_c")).alias("applied_amount"),
            "currency",
            money_expr(pl.col("receipt_c")).alias("receipt_amount"),
            "receipt_currency",
            "kind",
            "rule",
            "rule_id",
            pl.col("confidence").clip(0.0, 1.0).round(4),
            "reason",
            "flags",
        )
        .cast(ALLOCATION_SCHEMA)
    )

    # suggestions output
    out_sugg = (
        sugg.join(rec.select("rec_idx", "receipt_id"), on="rec_idx")
        .sort(["receipt_id", "rank"])
        .select(
            "receipt_id",
            "rank",
            "customer_id",
            "invoice_ids",
            money_expr(pl.col("amount_c")).alias("amount"),
            pl.col("score").clip(0.0, 1.0).round(4),
            "rule",
            "reason",
        )
        .cast(SUGGESTION_SCHEMA)
    )

    # receipts output
    has_sugg = sugg.select("rec_idx").unique().with_columns(pl.lit(True).alias("_s"))
    ms = pl.DataFrame(
        list(outcome.statuses.items()),
        schema={"rec_idx": pl.Int64, "_ms": pl.String},
        orient="row",
    )
    r = (
        rec.select("rec_idx", "c_pay", "payer_method", "payer_score", "amt_c")
        .join(decided.select("rec_idx", "_decided"), on="rec_idx", how="left")
        .with_columns(pl.coalesce("c_pay", "_decided").alias("customer_id"))
        .with_columns(rem=pl.Series(rec_rem))
        .join(has_sugg, on="rec_idx", how="left")
        .join(ms, on="rec_idx", how="left")
        .with_columns(
            pl.when(pl.col("_ms").is_not_null())
            .then(pl.col("_ms"))
            .when((pl.col("rem") == 0) & (pl.col("amt_c") > 0))
            .then(pl.lit("applied"))
            .when(pl.col("rem") != pl.col("amt_c"))
            .then(pl.lit("partial"))
            .when(pl.col("_s").fill_null(False))
            .then(pl.lit("suggested"))
            .otherwise(pl.lit("unapplied"))
            .alias("status"),
            money_expr(pl.col("amt_c") - pl.col("rem")).alias("allocated"),
            money_expr(pl.col("rem")).alias("unapplied"),
        )
    )
    out_rec = pl.concat(
        [
            rec0.drop(
                [
                    c
                    for c in (
                        "customer_id",
                        "payer_method",
                        "payer_score",
                        "allocated",
                        "unapplied",
                        "status",
                    )
                    if c in rec0.columns
                ]
            ),
            r.select(
                "customer_id", "payer_method", "payer_score", "allocated", "unapplied", "status"
            ),
        ],
        how="horizontal",
    )

    # invoices output
    i = (
        inv.select("start_c", "amt_c")
        .with_columns(open_c=pl.Series(inv_open))
        .with_columns(
            money_expr(pl.col("start_c") - pl.col("open_c")).alias("applied"),
            money_expr(pl.col("open_c")).alias("open_amount"),
            money_expr(pl.col("start_c")).alias("open_at_start"),
            # nothing left of a positive invoice: paid, also when it came in with nothing open
            pl.when((pl.col("open_c") == 0) & ((pl.col("start_c") > 0) | (pl.col("amt_c") > 0)))
            .then(pl.lit("paid"))
            .when(pl.col("open_c") != pl.col("start_c"))
            .then(pl.lit("partial"))
            .otherwise(pl.lit("open"))
            .alias("status"),
        )
    )
    out_inv = pl.concat(
        [
            inv0.drop(
                [
                    c
                    for c in ("open_amount", "open_at_start", "applied", "status")
                    if c in inv0.columns
                ]
            ),
            i.select("open_at_start", "applied", "open_amount", "status"),
        ],
        how="horizontal",
    )

    counts = dict(sorted(ledger.counts.items()))
    stats = {
        "allocation_rows": counts,
        "receipts": out_rec.group_by("status").len().sort("status").to_dicts(),
        "invoices": out_inv.group_by("status").len().sort("status").to_dicts(),
    }
    fnd = (
        pl.DataFrame(outcome.findings, schema=FINDING_SCHEMA)
        if outcome.findings
        else pl.DataFrame(schema=FINDING_SCHEMA)
    )
    return MatchResult(
        allocations=out_alloc,
        suggestions=out_sugg,
        receipts=out_rec,
        invoices=out_inv,
        payers=payers,
        credit_notes=credit_notes,
        findings=fnd,
        stats=stats,
    )


def edited(df: pl.DataFrame, rows: pl.Series, *exprs: pl.Expr) -> pl.DataFrame:
    """``df`` with the columns ``exprs`` make, evaluated on ``rows`` only and written there
    (a few rows of a million: not a when/then over every row)."""
    new = df[rows].select(exprs)
    return df.with_columns(
        df.get_column(c).clone().scatter(rows, new.get_column(c)) for c in new.columns
    )


def allocation_order(alloc: pl.DataFrame, receipt_ids: pl.Series) -> np.ndarray:
    """The order of ``alloc`` by (receipt_id, inv_idx, kind in :data:`KINDS` order, rule),
    from one integer per row instead of a sort of strings: a receipt by its position in
    ``receipt_ids`` (sorted, distinct: rec_idx) among the credit notes' ids (the rows
    without rec_idx) merged in. A credit id equal to a receipt's, or none, takes the sort
    of the strings."""
    kinds = pl.col("kind").replace_strict(
        {k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int64
    )
    rules = sorted(alloc.get_column("rule").unique().to_list(), key=lambda r: (r is None, r))
    null = alloc.get_column("rec_idx").is_null()
    credit = alloc.get_column("receipt_id").filter(null)
    ids = credit.unique().sort()
    at = receipt_ids.search_sorted(ids, side="left").cast(pl.Int64).to_numpy()
    hit = at < receipt_ids.len()
    clash = (receipt_ids.gather(at[hit]) == ids.filter(pl.Series(hit))).any()
    if credit.null_count() or None in rules or clash:
        return (
            alloc.with_row_index("_row")
            .with_columns(kinds.alias("_k"))
            .sort(["receipt_id", "inv_idx", "_k", "rule"])
            .get_column("_row")
            .to_numpy()
        )
    # the merged place of a receipt: its rec_idx plus the credit ids before it (those with
    # fewer receipt ids before them than it); of a credit id: its place among the credit ids
    # plus the receipt ids before it
    rec_idx = alloc.get_column("rec_idx").fill_null(0).to_numpy()
    place = rec_idx + np.searchsorted(at, rec_idx, side="right")
    j = ids.search_sorted(credit, side="left").cast(pl.Int64).to_numpy()
    place[null.to_numpy()] = j + at[j]
    inv_idx = alloc.get_column("inv_idx").to_numpy()
    k = alloc.select(kinds).to_series().to_numpy()
    r = alloc.select(pl.col("rule").replace_strict(rules, list(range(len(rules))))).to_series()
    bits = [max(int(x.max(initial=0)), 1).bit_length() for x in (inv_idx, k)]
    key = (place << bits[0]) | inv_idx
    key = (((key << bits[1]) | k) << max(len(rules) - 1, 1).bit_length()) | r.to_numpy()
    return np.argsort(key, kind="stable")


def memo_conflicts(
    alloc: pl.DataFrame, refs: pl.DataFrame, n_receipts: int, n_invoices: int
) -> np.ndarray:
    """By rec_idx: the receipt's memo names invoices and it was applied to none of them."""

    def pair(df: pl.DataFrame) -> np.ndarray:  # one integer per (receipt, invoice)
        rec_idx, inv_idx = df.get_column("rec_idx").to_numpy(), df.get_column("inv_idx")
        return rec_idx * np.int64(n_invoices) + inv_idx.to_numpy()

    named = refs.select("rec_idx", "inv_idx")
    applied = alloc.filter(pl.col("rec_idx").is_not_null())
    hit = named.filter(pl.Series(pair(named)).is_in(pl.Series(pair(applied)).implode()))
    out = np.zeros(n_receipts, dtype=bool)
    out[named.get_column("rec_idx").to_numpy()] = True
    out[hit.get_column("rec_idx").to_numpy()] = False
    return out


def decided_customers(alloc: pl.DataFrame, inv: pl.DataFrame, rec: pl.DataFrame) -> pl.DataFrame:
    """(rec_idx, _decided, _note): receipts whose payer was one of several candidate
    customers and whose cash went to invoices of exactly one of them: that customer, and a
    note for a reference rule's reason (the reference decided among the candidates)."""
    pending = rec.filter(pl.col("c_pay").is_null() & (pl.col("candidates").list.len() > 0))
    cash = (
        alloc.join(pending.select("rec_idx"), on="rec_idx", how="semi")
        .filter(pl.col("kind") == "cash")
        .join(inv.select("inv_idx", pl.col("customer_id").alias("c_inv")), on="inv_idx")
        .group_by("rec_idx")
        .agg(pl.col("c_inv").unique())
        .filter(pl.col("c_inv").list.len() == 1)
        .with_columns(pl.col("c_inv").list.first())
    )
    n = pl.col("candidates").list.len()
    them = (
        pl.when(n == 1)
        .then(pl.format("customer {}", pl.col("candidates").list.join(", ")))
        .otherwise(pl.format("{} customers ({})", n, pl.col("candidates").list.join(", ")))
    )
    who = (
        pl.when(pl.col("payer_method") == "ambiguous")
        .then(pl.format("payer '{}' is the name of {}", pl.col("payer_name").fill_null(""), them))
        .when(pl.col("payer_method") == "memo_name")
        .then(pl.format("no payer name; the memo names {}", them))
        .otherwise(pl.format("payer '{}' resembles {}", pl.col("payer_name").fill_null(""), them))
    )
    return (
        pending.join(cash, on="rec_idx")
        .filter(pl.col("candidates").list.contains(pl.col("c_inv")))
        .select(
            "rec_idx",
            pl.col("c_inv").alias("_decided"),
            pl.format("; {}: the reference decides ({})", who, "c_inv").alias("_note"),
        )
    )
