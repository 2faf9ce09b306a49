"""Payers named in the memo of receipts that carry no payer name."""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.payers.index import FUZZY_MAX_CHARS, tokens
from arlib.payers.master import CustomerNames, customer_names
from arlib.payers.normalize import loose_nf, nfkc, plain_expr, plain_nf, spaced_nf
from arlib.payers.schema import MEMO_PAYERS_SCHEMA


def _needs(*cols: str) -> list[pl.Expr]:
    """The shortest run of each name that names its customer in a memo: 4 Chinese (6
    other) characters, and 60 % of the name."""
    return [
        pl.max_horizontal(
            pl.when(pl.col(c).str.contains("[\u4e00-\u9fff]")).then(4).otherwise(6),
            (pl.col(c).str.len_chars().cast(pl.Float64) * 0.6).ceil().cast(pl.Int64),
        ).alias(f"_need_{c}")
        for c in cols
    ]


def _memo_runs(p: pl.DataFrame, memos: pl.DataFrame, names: pl.DataFrame):
    """For each pair of ``p`` (memo ``q``, choice ``c``), what the search for the name in
    the memo finds: the longest run of the name (``norm``) in ``_plain`` or of its loose key
    in ``_lp`` when at least ``_need_norm`` / ``_need_loose`` characters long (the loose
    key's only when longer), and its share of that name: ``(run, share)``, 0 for none.

    In numpy, from the 4-grams: a run of L >= 4 characters at name position i and memo
    position j is L - 3 matching 4-grams at (i, j), (i + 1, j + 1), ...: the longest run is
    3 + the longest such chain. Only the pairs some 4-gram can start a long enough run of
    are chained: a run of ``need`` characters holds ``need - 3`` consecutive 4-grams, one of
    them at a multiple of ``need - 3`` of the name."""
    texts = [memos.get_column(t) for t in ("_plain", "_lp")]
    words = [names.get_column(w) for w in ("norm", "loose")]
    needs = [names.get_column(f"_need_{w}").to_numpy() for w in ("norm", "loose")]
    every = pl.concat([*texts, *words])
    lens = every.str.len_chars().cast(pl.Int64).to_numpy()
    points = np.frombuffer(every.str.join("").item().encode("utf-32-le"), dtype=np.uint32)
    seen = np.zeros(0x110000, dtype=bool)
    seen[points] = True
    size = int(seen.sum())
    ci = (np.cumsum(seen, dtype=np.int64) - 1)[points]
    starts = np.cumsum(lens) - lens
    # the 4-gram starting at every position of the joined texts, once (those crossing from
    # one text into the next are never read): a look-up per gram asked for, not four
    g4 = ((ci[:-3] * size + ci[1:-2]) * size + ci[2:-1]) * size + ci[3:]
    del ci

    def grams(first: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The 4-grams of the strings ``first`` (indexes into ``every``) at ``at``."""
        return g4[starts[first] + at]

    def ranges(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row repeated ``count`` times, and 0 .. count - 1 beside."""
        row = np.repeat(np.arange(count.size), count)
        return row, np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)

    n_memo, n_name, s4 = memos.height, names.height, size**4
    # every 4-gram of every text (text k of memo q is string k * n_memo + q), with where
    text_of, at = ranges(np.maximum(lens[: 2 * n_memo] - 3, 0))
    known = pl.DataFrame({"_k": text_of * s4 + grams(text_of, at), "_j": at})
    q_at = p.get_column("q").to_numpy()  # a memo's q is its row, a choice's c its row
    c_at = p.get_column("c").to_numpy()
    found = []
    for k in (0, 1):
        name_of = 2 * n_memo + k * n_name + c_at
        need, length = needs[k][c_at], lens[name_of]
        live = need <= length
        # the pairs a probe (a 4-gram at a multiple of need - 3) finds in the text
        step = np.maximum(need - 3, 1)
        pair, t = ranges(np.where(live, (length - 4) // step + 1, 0))
        probe = pl.Series((k * n_memo + q_at[pair]) * s4 + grams(name_of[pair], t * step[pair]))
        live = np.zeros(p.height, dtype=bool)
        live[pair[probe.is_in(known.get_column("_k").implode()).to_numpy()]] = True
        # their 4-grams at every position, matched with the text's
        pair, i = ranges(np.where(live, length - 3, 0))
        probe = (k * n_memo + q_at[pair]) * s4 + grams(name_of[pair], i)
        matched = pl.DataFrame({"_k": probe, "_p": pair, "_i": i}).join(known, on="_k")
        pair, i, j = (matched.get_column(x).to_numpy() for x in ("_p", "_i", "_j"))
        # chains along each diagonal j - i: sorted by pair, diagonal, then i
        wide = int(lens.max()) + 1
        order = np.argsort((pair * 2 * wide + (j - i + wide)) * wide + i)
        pair, i, diag = pair[order], i[order], (j - i)[order]
        more = np.zeros(pair.size, dtype=bool)
        more[1:] = (pair[1:] == pair[:-1]) & (diag[1:] == diag[:-1]) & (i[1:] == i[:-1] + 1)
        chain = np.cumsum(~more) - 1
        longest = np.zeros(p.height, dtype=np.int64)
        if chain.size:
            np.maximum.at(longest, pair[~more], np.bincount(chain) + 3)
        found.append((np.where(longest >= need, longest, 0), length))
    (run_n, len_n), (run_l, len_l) = found
    loose = run_l > run_n
    run = np.where(loose, run_l, run_n)
    share = np.where(run > 0, run / np.where(loose, len_l, len_n).clip(1), 0.0)
    return run, share


def memo_payers(
    receipts: pl.DataFrame, customers: pl.DataFrame | CustomerNames, *, max_candidates: int = 8
) -> pl.DataFrame:
    """Customers named in the memo of receipts that carry no payer name (many bank lines
    carry none): :data:`MEMO_PAYERS_SCHEMA`, one row per distinct memo naming someone.

    A customer is named when a run of at least 4 Chinese (6 other) characters of its
    normalised name or alias (exact or loose key), covering at least 60 % of it, is in the
    memo (NFKC, lower case, punctuation and spaces removed): ``PAYMENT FROM CORAL BAY FOODS
    K.K.``, ``北京嘉禾食品有限公司支付货款``, ``BRIGHTWAY ELECTRONICS PAYMENT`` (the
    customer's name without its city). The customers with the longest such run are the
    candidates (a short name several customers share names them all); more than
    ``max_candidates`` name nobody. ``score`` is the share of the best name found.
    ``customers``: the customer master, or its :class:`~arlib.payers.CustomerNames`."""
    if "memo" not in receipts.columns or receipts.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    name_col = (
        pl.col("payer_name").cast(pl.String)
        if "payer_name" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    rows = receipts.select(name_col.alias("_name"), pl.col("memo").cast(pl.String))
    customers = customer_names(customers)
    # the names that normalise to nothing, each distinct name once
    blank = customers.blank(rows.get_column("_name").unique().drop_nulls())
    memos = (
        rows.filter(pl.col("_name").is_null() | pl.col("_name").is_in(blank.implode()))
        .get_column("memo")
        .drop_nulls()
        .unique()
        .sort()
    )
    memos = (
        pl.DataFrame({"memo": memos, "_nf": nfkc(memos)})
        .with_columns(
            plain_nf(pl.col("_nf")).str.slice(0, FUZZY_MAX_CHARS).alias("_plain"),
            plain_expr(loose_nf(pl.col("_nf"))).str.slice(0, FUZZY_MAX_CHARS).alias("_lp"),
            spaced_nf(pl.col("_nf")).str.slice(0, FUZZY_MAX_CHARS).alias("_spaced"),
        )
        .drop_nulls("_plain")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("q"))
    )
    if memos.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    ch = customers.choices
    if ch.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    pairs = customers.index.pairs(tokens(memos, "q", "_plain", "_spaced"))
    memos = memos.with_columns(pl.coalesce("_lp", "_plain").alias("_lp"))
    names = ch.select(
        "c", "customer_id", "norm", pl.col("loose").fill_null(""), *_needs("norm", "loose")
    )
    p = pairs.join(memos.select("q", "memo"), on="q").join(names.select("c", "customer_id"), on="c")
    run, share = _memo_runs(p, memos, names)
    p = p.with_columns(
        pl.Series("run", run, dtype=pl.Int64), pl.Series("share", share, dtype=pl.Float64)
    )
    p = p.filter(pl.col("run") > 0)
    p = p.filter(pl.col("run") == pl.col("run").max().over("q"))
    out = (
        p.group_by("memo")
        .agg(
            pl.col("customer_id").unique().sort().alias("candidates"),
            pl.col("share").max().alias("score"),
        )
        .filter(pl.col("candidates").list.len() <= max_candidates)
        .sort("memo")
    )
    return out.select(list(MEMO_PAYERS_SCHEMA)).cast(MEMO_PAYERS_SCHEMA)
