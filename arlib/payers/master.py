"""Customer master data as the resolution reads it: one row per name or alias with its forms
(the choices), and the customers of a key."""

from __future__ import annotations

import polars as pl

from arlib.payers.normalize import name_forms


def split_col(customers: pl.DataFrame, col: str) -> pl.DataFrame:
    if col not in customers.columns:
        return pl.DataFrame(schema={"customer_id": pl.String, col: pl.String})
    return (
        customers.select("customer_id", pl.col(col).cast(pl.String).str.split("|"))
        .explode(col)
        .with_columns(pl.col(col).str.strip_chars())
        .filter(pl.col(col).is_not_null() & (pl.col(col) != ""))
    )


def customer_choices(customers: pl.DataFrame) -> pl.DataFrame:
    """Names and aliases of every customer, one row each (``c`` numbers them, sorted;
    ``cc`` numbers the customers): norm, loose, prefix and spaced forms, customer_id,
    source (name / alias)."""
    names = customers.select(
        "customer_id", pl.col("name").cast(pl.String).alias("raw")
    ).with_columns(pl.lit("name").alias("source"))
    aliases = (
        split_col(customers, "aliases")
        .select("customer_id", pl.col("aliases").alias("raw"))
        .with_columns(pl.lit("alias").alias("source"))
    )
    raw = pl.concat([names, aliases])
    # each (norm, customer, source, loose, prefix) once, the first: a stable sort, then
    # the first row of each run
    order = ["norm", "customer_id", "source", "loose", "prefix"]
    first = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in order)
    return (
        pl.concat(
            [name_forms(raw.get_column("raw")), raw.select("customer_id", "source")],
            how="horizontal",
        )
        .drop_nulls("norm")
        .sort(order, maintain_order=True)
        .filter(first.fill_null(True))
        .with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("c"),
            pl.col("customer_id").rank("dense").cast(pl.Int64).sub(1).alias("cc"),
        )
    )


def key_customers(df: pl.DataFrame, key: str, out: str) -> pl.DataFrame:
    """key -> the sorted list of customers it belongs to."""
    return df.drop_nulls(key).group_by(key).agg(pl.col("customer_id").unique().sort().alias(out))
