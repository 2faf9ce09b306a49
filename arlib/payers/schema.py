"""The payer resolution outputs: methods and frame schemas."""

from __future__ import annotations

import polars as pl

METHODS = (
    "account",
    "name",
    "alias",
    "fuzzy",
    "ambiguous",
    "fuzzy_candidates",
    "memo_name",
    "none",
)
#: methods that name candidate customers (``candidates``), never one customer
CANDIDATE_METHODS = ("ambiguous", "fuzzy_candidates", "memo_name")

PAYERS_SCHEMA = {
    "payer_name": pl.String,
    "payer_account": pl.String,
    "customer_id": pl.String,
    "method": pl.String,
    "score": pl.Float64,
    "candidate_id": pl.String,
    "candidate_score": pl.Float64,
    "candidates": pl.List(pl.String),
}
MEMO_PAYERS_SCHEMA = {"memo": pl.String, "candidates": pl.List(pl.String), "score": pl.Float64}
