"""What a close learns from people's decisions, for the next close to use.

Two things, each kept where a reviewer sees it:

* **Learned aliases.** A receipt whose payer name resolved to no customer, applied by a
  person's ``match`` decision, teaches that the name is the invoice's customer. The close
  writes ``learned_aliases.csv`` (payer name, customer, the receipt and decision that taught
  it, ``accepted`` empty). An analyst marks the rows they accept (``accepted``: yes); the
  next close reads that file beside its opening items and adds each accepted name to the
  customer's aliases. Nothing is learned silently: an alias is a master-data change, and a
  person approves it.
* **Remembered rejections.** A ``reject`` decision on a (receipt, invoice) pair holds for
  as long as the receipt is open: the pair is carried in the open items (item type
  ``rejection``) and becomes a ``reject`` decision of the next close, so the same pair is
  never suggested again.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from arlib import findings as fnd
from arlib.schema import DECISION_COLUMNS, MONEY

LEARNED_ALIASES = "learned_aliases.csv"
ALIAS_COLUMNS = {
    "payer_name": pl.String,
    "customer_id": pl.String,
    "customer_name": pl.String,
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "decided_by": pl.String,
    "period": pl.String,
    "accepted": pl.String,
}
#: what an analyst writes in ``accepted`` to accept a learned alias
YES = ("yes", "y", "true", "1", "是", "接受")
NO = ("", "no", "n", "false", "0", "否")


def learned_aliases(
    allocations: pl.DataFrame,
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    decisions: pl.DataFrame | None,
    period: str,
) -> pl.DataFrame:
    """Payer names that resolved to nobody and that a person matched to an invoice: one
    row per (payer name, customer), the first receipt that taught it, ``accepted`` empty."""
    manual = allocations.filter((pl.col("rule") == "manual") & (pl.col("kind") == "cash"))
    unknown = receipts.filter(
        (pl.col("payer_method") == "none")
        & pl.col("payer_name").is_not_null()
        & (pl.col("payer_name").str.strip_chars() != "")
    ).select("receipt_id", pl.col("payer_name").str.strip_chars())
    who = (
        decisions.filter(pl.col("action") == "match")
        .group_by("receipt_id")
        .agg(pl.col("who").drop_nulls().first())
        if decisions is not None and decisions.height
        else pl.DataFrame(schema={"receipt_id": pl.String, "who": pl.String})
    )
    names = customers.select("customer_id", pl.col("name").alias("customer_name"))
    return (
        manual.select("receipt_id", "invoice_id", "customer_id")
        .join(unknown, on="receipt_id")
        .join(who, on="receipt_id", how="left")
        .join(names, on="customer_id", how="left")
        .sort("payer_name", "customer_id", "receipt_id", "invoice_id")
        .unique(["payer_name", "customer_id"], keep="first", maintain_order=True)
        .select(
            "payer_name",
            "customer_id",
            "customer_name",
            "receipt_id",
            "invoice_id",
            pl.col("who").alias("decided_by"),
            pl.lit(period).alias("period"),
            pl.lit("").alias("accepted"),
        )
        .cast(ALIAS_COLUMNS)
    )


def accepted_aliases(path: Path, shown: str, customers: pl.DataFrame):
    """The accepted rows of a reviewed ``learned_aliases.csv`` as (customer_id, alias),
    with a finding for each row that cannot be used: an ``accepted`` value that is neither
    yes nor no, a customer no longer in the master data, an empty name (all warnings: the
    alias is simply not added). Returns (frame, findings, provenance)."""
    from arlib.load import sha256_of

    empty = pl.DataFrame(schema={"customer_id": pl.String, "alias": pl.String})
    provenance = {
        "input": "learned_aliases",
        "file": shown,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (OSError, pl.exceptions.PolarsError) as exc:
        problem = fnd.warning(shown, None, None, None, "learned_aliases_unreadable", str(exc))
        return empty, [problem], provenance
    missing = [c for c in ("payer_name", "customer_id", "accepted") if c not in raw.columns]
    if missing:
        problem = fnd.warning(
            shown, None, None, None, "learned_aliases_columns", f"no column {', '.join(missing)}"
        )
        return empty, [problem], provenance
    rows = raw.with_row_index("_row", offset=2).with_columns(
        pl.col("accepted").fill_null("").str.strip_chars().str.to_lowercase().alias("_said"),
        pl.col("payer_name").fill_null("").str.strip_chars().alias("alias"),
        pl.col("customer_id").str.strip_chars(),
    )
    problems = [
        fnd.warning(shown, r, "accepted", v, "bad_value", f"accepted must be one of {YES} or {NO}")
        for r, v in rows.filter(~pl.col("_said").is_in([*YES, *NO]))
        .select("_row", "accepted")
        .iter_rows()
    ]
    taken = rows.filter(pl.col("_said").is_in(YES))
    known = set(customers.get_column("customer_id").to_list())
    problems += [
        fnd.warning(
            shown,
            r,
            "customer_id",
            c,
            "unknown_customer",
            "no such customer in the master data: the alias is not added",
        )
        for r, c in taken.filter(~pl.col("customer_id").is_in(known))
        .select("_row", "customer_id")
        .iter_rows()
    ]
    aliases = taken.filter(pl.col("customer_id").is_in(known) & (pl.col("alias") != ""))
    provenance["rows"] = rows.height
    provenance["accepted"] = aliases.height
    return aliases.select("customer_id", "alias"), problems, provenance


def with_aliases(customers: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """Customers with the accepted aliases added to their ``aliases`` ('|'-separated)."""
    if aliases.height == 0:
        return customers
    added = aliases.group_by("customer_id").agg(pl.col("alias").unique().sort().str.join("|"))
    merged = customers.join(added, on="customer_id", how="left", maintain_order="left")
    current = pl.col("aliases") if "aliases" in customers.columns else pl.lit(None, pl.String)
    return merged.with_columns(
        pl.when(pl.col("alias").is_null())
        .then(current)
        .when(current.is_null() | (current.str.strip_chars() == ""))
        .then(pl.col("alias"))
        .otherwise(pl.concat_str(current, pl.lit("|"), pl.col("alias")))
        .alias("aliases")
    ).drop("alias")


REJECTION_SCHEMA = {
    "receipt_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "first_period": pl.String,
    "history": pl.String,
}


def rejections_to_carry(
    decisions: pl.DataFrame | None,
    receipts: pl.DataFrame,
    invoices: pl.DataFrame,
    period: str,
) -> pl.DataFrame:
    """The (receipt, invoice) pairs people rejected that still matter next period: the
    receipt carries unapplied cash and the invoice stays open. A pair carried in keeps the
    period it was first rejected in."""
    if decisions is None or decisions.height == 0:
        return pl.DataFrame(schema=REJECTION_SCHEMA)
    pairs = decisions.filter(
        (pl.col("action") == "reject") & pl.col("invoice_id").is_not_null()
    ).with_columns(
        pl.when(pl.col("who") == CARRIED)
        .then(pl.col("when"))
        .otherwise(pl.lit(period))
        .alias("first_period"),
        pl.when(pl.col("who") == CARRIED)
        .then(pl.col("why"))
        .otherwise(
            pl.format(
                "{}: rejected by {} on {}: {}",
                pl.lit(period),
                pl.col("who").fill_null("?"),
                pl.col("when").fill_null("?"),
                pl.col("why").fill_null("no reason given"),
            )
        )
        .alias("history"),
    )
    open_cash = receipts.filter(pl.col("unapplied") > 0).select("receipt_id")
    open_invoices = invoices.filter(pl.col("open_amount") > 0).select("invoice_id", "customer_id")
    return (
        pairs.join(open_cash, on="receipt_id", how="semi")
        .join(open_invoices, on="invoice_id")
        .sort("receipt_id", "invoice_id", "first_period")
        .unique(["receipt_id", "invoice_id"], keep="first", maintain_order=True)
        .select(list(REJECTION_SCHEMA))
    )


#: who a carried decision is by (its ``when`` is the period it was first made in)
CARRIED = "carried"


def carried_rejections(
    rejections: pl.DataFrame, receipts: pl.DataFrame, shown: str
) -> pl.DataFrame:
    """The previous close's remembered rejections, as ``reject`` decisions of this close
    (for the receipts it carries in)."""
    schema = {**{c: pl.String for c in DECISION_COLUMNS}, "amount": MONEY}
    schema |= {"source_file": pl.String, "source_row": pl.Int64}
    if rejections.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        rejections.join(receipts.select("receipt_id"), on="receipt_id", how="semi")
        .select(
            "receipt_id",
            pl.lit("reject").alias("action"),
            "invoice_id",
            pl.lit(None, MONEY).alias("amount"),
            pl.lit(CARRIED).alias("who"),
            pl.col("first_period").alias("when"),
            pl.col("history").alias("why"),
            pl.lit(None, pl.String).alias("owner"),
            pl.lit(None, pl.String).alias("exception_id"),
            pl.lit(shown).alias("source_file"),
            pl.lit(None, pl.Int64).alias("source_row"),
        )
        .cast(schema)
    )
