"""Customer master data as the resolution reads it: one row per name or alias with its forms
(the choices), their inverted index, the customers of a payer account; prepared once and
shared by :func:`~arlib.payers.resolve_payers` and :func:`~arlib.payers.memo_payers`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import polars as pl

from arlib.payers.index import Index
from arlib.payers.normalize import name_forms, normalize_account, normalize_name_expr


class _Once:
    """A property computed on first use and then kept, once even when two threads ask for
    it at the same time (resolve_payers builds the index in a worker thread while it
    reads the choices); one lock per property."""

    def __init__(self, make: Callable[[Any], Any]):
        self.make, self.name, self.lock = make, make.__name__, threading.RLock()
        self.__doc__ = make.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if self.name not in obj.__dict__:
            with self.lock:
                if self.name not in obj.__dict__:
                    obj.__dict__[self.name] = self.make(obj)
        return obj.__dict__[self.name]


class CustomerNames:
    """The customers' names, aliases and payer accounts, each part built on first use and
    then kept: one match resolves payer names and memos against the same master data."""

    def __init__(self, customers: pl.DataFrame):
        self.customers = customers.with_columns(pl.col("customer_id").cast(pl.String))
        #: the forms of the other names :meth:`forms_of` was asked for (payer names)
        self._more: pl.DataFrame | None = None

    @_Once
    def raw(self) -> pl.DataFrame:
        """Every name and alias: customer_id, raw (the text), source (name / alias)."""
        names = self.customers.select(
            "customer_id", pl.col("name").cast(pl.String).alias("raw")
        ).with_columns(pl.lit("name").alias("source"))
        aliases = (
            split_col(self.customers, "aliases")
            .select("customer_id", pl.col("aliases").alias("raw"))
            .with_columns(pl.lit("alias").alias("source"))
        )
        return pl.concat([names, aliases])

    @_Once
    def forms(self) -> pl.DataFrame:
        """Each distinct name or alias (``raw``) once, with its :func:`name_forms`."""
        raw = self.raw.get_column("raw").unique()
        return pl.concat([raw.to_frame(), name_forms(raw)], how="horizontal")

    @_Once
    def choices(self) -> pl.DataFrame:
        """:func:`customer_choices`."""
        return customer_choices(self.raw, self.forms)

    def forms_of(self, names: pl.Series) -> pl.DataFrame:
        """``names`` (distinct, not null) with their :func:`name_forms`, in some order: a
        payer spelling a customer's name or alias exactly (most do), or a name asked for
        before, reads its forms."""
        known, new = self._known(names)
        made = pl.concat([new.to_frame(), name_forms(new)], how="horizontal")
        self._more = made if self._more is None else pl.concat([self._more, made])
        return pl.concat([known.drop("_known"), made])

    def blank(self, names: pl.Series) -> pl.Series:
        """Those of ``names`` (distinct, not null) that normalise to nothing (no norm)."""
        known, new = self._known(names)
        new = new.to_frame().filter(normalize_name_expr(pl.col("raw")).is_null())
        return pl.concat([known.filter(pl.col("norm").is_null()).get_column("raw"), new["raw"]])

    def _known(self, names: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
        """The forms of those of ``names`` whose forms are known (customers' names and
        aliases, the names :meth:`forms_of` made), and the others."""
        table = self.forms if self._more is None else pl.concat([self.forms, self._more])
        got = (
            names.rename("raw")
            .to_frame()
            .join(table.with_columns(pl.lit(True).alias("_known")), on="raw", how="left")
        )
        new = got.filter(pl.col("_known").is_null()).get_column("raw")
        return got.filter(pl.col("_known").is_not_null()), new

    @_Once
    def index(self) -> Index:
        """The inverted index of the choices."""
        return Index(self.choices)

    @_Once
    def accounts(self) -> pl.DataFrame:
        """``_acct`` (a normalised payer account) -> ``_k_acct``, its customers."""
        accts = split_col(self.customers, "payer_accounts")
        accts = accts.select(
            "customer_id", normalize_account(accts.get_column("payer_accounts")).alias("_acct")
        )
        return key_customers(accts, "_acct", "_k_acct")


def customer_names(customers: pl.DataFrame | CustomerNames) -> CustomerNames:
    """``customers`` prepared (a :class:`CustomerNames` as it is)."""
    return customers if isinstance(customers, CustomerNames) else CustomerNames(customers)


def split_col(customers: pl.DataFrame, col: str) -> pl.DataFrame:
    if col not in customers.columns:
        return pl.DataFrame(schema={"customer_id": pl.String, col: pl.String})
    return (
        customers.select("customer_id", pl.col(col).cast(pl.String).str.split("|"))
        .explode(col)
        .with_columns(pl.col(col).str.strip_chars())
        .filter(pl.col(col).is_not_null() & (pl.col(col) != ""))
    )


def customer_choices(raw: pl.DataFrame, forms: pl.DataFrame) -> pl.DataFrame:
    """Names and aliases of every customer (``raw``: customer_id, raw, source; ``forms``:
    the forms of each raw text), one row each (``c`` numbers them, sorted; ``cc`` numbers
    the customers): norm, loose, prefix and spaced forms, customer_id, source (name /
    alias)."""
    # each (norm, customer, source, loose, prefix) once, the first: a stable sort, then
    # the first row of each run (the customers numbered before: their ids come nearly
    # sorted; a source as whether a name: alias sorts first either way)
    order = ["norm", "cc", "_name", "loose", "prefix"]
    first = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in order)
    return (
        raw.join(forms, on="raw", how="left", nulls_equal=True, maintain_order="left")
        .select("norm", "loose", "prefix", "spaced", "customer_id", "source")
        .drop_nulls("norm")
        .with_columns(
            pl.col("customer_id").rank("dense").cast(pl.Int64).sub(1).alias("cc"),
            (pl.col("source") == "name").alias("_name"),
        )
        .sort(order, maintain_order=True)
        .filter(first.fill_null(True))
        .select(
            "norm",
            "loose",
            "prefix",
            "spaced",
            "customer_id",
            "source",
            pl.int_range(pl.len(), dtype=pl.Int64).alias("c"),
            "cc",
        )
    )


def key_customers(df: pl.DataFrame, key: str, out: str) -> pl.DataFrame:
    """key -> the sorted list of customers it belongs to."""
    return df.drop_nulls(key).group_by(key).agg(pl.col("customer_id").unique().sort().alias(out))
