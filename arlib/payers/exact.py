"""The exact methods: the payer account, the normalised name or alias, the same on the loose
key, and the keys several customers share (``ambiguous``)."""

from __future__ import annotations

import polars as pl

from arlib.payers.master import CustomerNames


def _only(col: str) -> pl.Expr:
    """The customer of a key that belongs to exactly one."""
    return pl.when(pl.col(col).list.len() == 1).then(pl.col(col).list.first())


def _several(col: str) -> pl.Expr:
    """The customers of a key that belongs to several."""
    return pl.when(pl.col(col).list.len() > 1).then(pl.col(col))


def _keyed(
    choices: pl.DataFrame, forms: pl.DataFrame, key: str, target: str, out: tuple[str, str, str]
) -> pl.DataFrame:
    """``forms`` with, for its ``target``, the sorted lists of the customers whose
    name, alias, either has it as ``key`` (null for none); each customer once, sorted
    before the grouping (a group's list keeps the order of its rows: far cheaper than
    sorting every list; ``cc`` numbers the customers in their order)."""
    customer = pl.col("customer_id")
    lists = (
        choices.select(pl.col(key).alias(target), "source", "cc", "customer_id")
        .join(forms.select(target), on=target, how="semi")
        .unique([target, "source", "cc"])
        .sort("cc")
        .group_by(target)
        .agg(
            customer.filter(pl.col("source") == "name").alias(out[0]),
            customer.filter(pl.col("source") == "alias").alias(out[1]),
            customer.unique(maintain_order=True).alias(out[2]),
        )
        .with_columns(pl.when(pl.col(k).list.len() > 0).then(k).alias(k) for k in out[:2])
    )
    return forms.join(lists, on=target, how="left")


def exact(pairs: pl.DataFrame, customers: CustomerNames) -> pl.DataFrame:
    """``pairs`` (distinct payer_name, payer_account, ``_acct``) with the exact resolution:
    ``customer_id``, ``candidates``, ``method`` (``none`` when no key decides) and ``score``;
    and, unless the account decides, the forms of the name (``_norm``, ``_loose``,
    ``_spaced``, ``_pfx``)."""
    # 1. the account: a pair it resolves reads nothing of its name
    pairs = pairs.join(customers.accounts, on="_acct", how="left", maintain_order="left")
    pairs = pairs.with_columns(_only("_k_acct").alias("_c_acct"))
    # the forms of each distinct name once, and the customers whose names they are
    names = pairs.filter(pl.col("_c_acct").is_null()).get_column("payer_name")
    forms = customers.forms_of(names.unique().drop_nulls()).rename(
        {
            "raw": "payer_name",
            "norm": "_norm",
            "loose": "_loose",
            "spaced": "_spaced",
            "prefix": "_pfx",
        }
    )
    choices = customers.choices
    forms = _keyed(choices, forms, "norm", "_norm", ("_k_name", "_k_alias", "_k_any"))
    forms = _keyed(choices, forms, "loose", "_loose", ("_k_lname", "_k_lalias", "_k_lany"))
    # 2./3. name and alias, then the same on the loose key; 4. keys several customers share:
    # what the name decides, once per name
    forms = forms.select(
        "payer_name",
        "_norm",
        "_loose",
        "_spaced",
        "_pfx",
        pl.coalesce(_only("_k_name"), _only("_k_lname")).alias("_c_name"),
        pl.coalesce(_only("_k_alias"), _only("_k_lalias")).alias("_c_alias"),
        pl.coalesce(_several("_k_any"), _several("_k_lany")).alias("_k_names"),
    )
    return (
        pairs.join(forms, on="payer_name", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_c_acct", "_c_name", "_c_alias").alias("customer_id"),
        )
        .with_columns(
            pl.when(pl.col("customer_id").is_null())
            .then(pl.coalesce(_several("_k_acct"), "_k_names"))
            .alias("candidates"),
        )
        .with_columns(
            pl.when(pl.col("_c_acct").is_not_null())
            .then(pl.lit("account"))
            .when(pl.col("_c_name").is_not_null())
            .then(pl.lit("name"))
            .when(pl.col("_c_alias").is_not_null())
            .then(pl.lit("alias"))
            .when(pl.col("candidates").is_not_null())
            .then(pl.lit("ambiguous"))
            .otherwise(pl.lit("none"))
            .alias("method"),
        )
        .with_columns(pl.when(pl.col("method") != "none").then(1.0).otherwise(0.0).alias("score"))
    )
