"""Payer resolution: which customer sent a bank receipt.

A bank line names a payer (``payer_name``, sometimes ``payer_account``); matching needs a
``customer_id``. Resolution works on the distinct ``(payer_name, payer_account)`` pairs, not
on receipt rows (a million receipts have far fewer distinct payers), in this order:

1. ``account`` -- the payer account is listed in exactly one customer's ``payer_accounts``
   ('|'-separated; compared without spaces/hyphens, upper-cased).
2. ``name``    -- the normalised payer name equals exactly one customer's normalised name.
3. ``alias``   -- the normalised payer name equals exactly one customer's normalised alias.
   Then the same two look-ups on the *loose* key (:func:`loose_key_expr`: a parenthesised
   Chinese place moved to the front, ``上海（华东）`` style, and the ``市`` after a leading
   city dropped), so ``佳禾家电贸易（厦门）有限公司`` is ``厦门市佳禾家电贸易有限公司``
   (method ``name`` / ``alias``).
4. ``fuzzy``   -- a truncated bank field: the payer's normalised name *before* suffix
   stripping (at least 6 characters and 60 % of the name) is a prefix of the names/aliases
   of exactly one customer and no other customer scores near it (score 0.9). Otherwise
   rapidfuzz ``fuzz.ratio`` of the normalised name against the normalised customer names
   and aliases that share its first or its last character (blocking: a million receipts
   cannot be compared with every customer; a name differing from the payer in both its
   first and its last character is not compared). The best customer is accepted when its
   score is at least ``auto_threshold`` *and* beats the best other compared customer by
   ``margin``; otherwise, when at least ``suggest_threshold``, it is only a *candidate*
   (``candidate_id``/``candidate_score``): matching may suggest it, never allocate on it.
5. ``none``    -- nothing above.

Normalisation (:func:`normalize_name`): Unicode NFKC (full/half width), lower case,
punctuation and symbols to spaces, trailing company suffixes removed (有限责任公司,
股份有限公司, 有限公司, 公司, truncated 有限公/有限, co., ltd., co.,ltd, limited, inc., llc,
gmbh, corp., ...),
then all whitespace removed. A name that is only a suffix normalises to null.

Scores are 0-1: exact methods score 1.0, fuzzy the rapidfuzz ratio / 100.
"""

from __future__ import annotations

import numpy as np
import polars as pl

METHODS = ("account", "name", "alias", "fuzzy", "none")

_PUNCT = r"[\p{P}\p{S}\s]+"
_EN_SUFFIX = (
    r"(?:\s+(?:co|company|ltd|limited|inc|incorporated|llc|l\s?l\s?c|gmbh|corp|corporation"
    r"|plc|pte|pty|sa|ag|bv|kk|group))+\s*$"
)
_ZH_SUFFIX = r"(?:有限责任公司|股份有限公司|集团有限公司|有限公司|集团公司|公司|有限公|有限)$"

PAYERS_SCHEMA = {
    "payer_name": pl.String,
    "payer_account": pl.String,
    "customer_id": pl.String,
    "method": pl.String,
    "score": pl.Float64,
    "candidate_id": pl.String,
    "candidate_score": pl.Float64,
}


def normalize_name_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression form of :func:`normalize_name` (vectorised)."""
    s = expr.str.normalize("NFKC").str.to_lowercase().str.replace_all(_PUNCT, " ").str.strip_chars()
    s = (" " + s).str.replace(_EN_SUFFIX, "").str.strip_chars()
    s = s.str.replace(_ZH_SUFFIX, "").str.replace_all(r"\s+", "")
    return pl.when(s.str.len_chars() > 0).then(s).otherwise(None)


def normalize_name(name: str | None) -> str | None:
    """Normalise one company name, e.g. ``'ＡＣＭＥ Trading Co.,Ltd.'`` -> ``'acmetrading'``."""
    if name is None:
        return None
    return pl.select(normalize_name_expr(pl.lit(name, dtype=pl.String))).item()


def loose_key_expr(expr: pl.Expr) -> pl.Expr:
    """The loose key: a parenthesised Chinese place moved to the front
    (``佳禾家电（厦门）有限公司`` -> ``厦门佳禾家电有限公司``), the ``市`` after a leading 2-3
    character city dropped, then :func:`normalize_name_expr`."""
    s = expr.str.normalize("NFKC")
    s = s.str.replace(r"^(.+?)\(\s*(\p{Han}{2,4})\s*\)(.*)$", "${2}${1}${3}")
    s = s.str.replace(r"^(\p{Han}{2,3}?)市", "${1}")
    return normalize_name_expr(s)


def _prefix_key_expr(expr: pl.Expr) -> pl.Expr:
    """Normalised like :func:`loose_key_expr` but without removing the company suffix (a
    truncated bank field keeps part of it: ``厦门市佳禾家电贸易有``)."""
    s = expr.str.normalize("NFKC")
    s = s.str.replace(r"^(.+?)\(\s*(\p{Han}{2,4})\s*\)(.*)$", "${2}${1}${3}")
    s = s.str.replace(r"^(\p{Han}{2,3}?)市", "${1}")
    s = s.str.to_lowercase().str.replace_all(_PUNCT, "")
    return pl.when(s.str.len_chars() > 0).then(s).otherwise(None)


def normalize_account_expr(expr: pl.Expr) -> pl.Expr:
    s = expr.str.normalize("NFKC").str.replace_all(r"[\s\-]+", "").str.to_uppercase()
    return pl.when(s.str.len_chars() > 0).then(s).otherwise(None)


def _unique_key_map(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """key -> customer_id where the key belongs to exactly one customer."""
    return (
        df.drop_nulls(key)
        .unique([key, "customer_id"])
        .group_by(key)
        .agg(pl.col("customer_id").min(), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1)
        .drop("_n")
    )


def _split_col(customers: pl.DataFrame, col: str) -> pl.DataFrame:
    if col not in customers.columns:
        return pl.DataFrame(schema={"customer_id": pl.String, col: pl.String})
    return (
        customers.select("customer_id", pl.col(col).cast(pl.String).str.split("|"))
        .explode(col)
        .with_columns(pl.col(col).str.strip_chars())
        .filter(pl.col(col).is_not_null() & (pl.col(col) != ""))
    )


def _choices(customers: pl.DataFrame) -> pl.DataFrame:
    """Names and aliases of every customer: (norm, loose, prefix, customer_id, source)."""
    names = customers.select(
        "customer_id", pl.col("name").cast(pl.String).alias("raw")
    ).with_columns(pl.lit("name").alias("source"))
    aliases = (
        _split_col(customers, "aliases")
        .select("customer_id", pl.col("aliases").alias("raw"))
        .with_columns(pl.lit("alias").alias("source"))
    )
    return (
        pl.concat([names, aliases])
        .select(
            normalize_name_expr(pl.col("raw")).alias("norm"),
            loose_key_expr(pl.col("raw")).alias("loose"),
            _prefix_key_expr(pl.col("raw")).alias("prefix"),
            "customer_id",
            "source",
        )
        .drop_nulls("norm")
        .unique(maintain_order=True)
    )


def _block_best(
    queries: list[str],
    q_key: list[str],
    choice_norms: list[str],
    c_key: list[str],
    choice_cust: np.ndarray,
    cutoff: int,
    chunk_cells: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Within blocks of equal key: best customer, best score, best other customer's score."""
    from rapidfuzz import fuzz, process

    nq = len(queries)
    best_c = np.full(nq, -1, dtype=np.int64)
    best_s = np.zeros(nq, dtype=np.float64)
    second_s = np.zeros(nq, dtype=np.float64)
    c_groups: dict[str, list[int]] = {}
    for j, k in enumerate(c_key):
        c_groups.setdefault(k, []).append(j)
    q_groups: dict[str, list[int]] = {}
    for i, k in enumerate(q_key):
        q_groups.setdefault(k, []).append(i)
    for k in sorted(q_groups):
        cj = c_groups.get(k)
        if not cj:
            continue
        qi = np.array(q_groups[k], dtype=np.int64)
        cj_arr = np.array(cj, dtype=np.int64)
        names = [choice_norms[j] for j in cj]
        cc = choice_cust[cj_arr]
        step = max(1, chunk_cells // len(cj))
        for start in range(0, len(qi), step):
            part = qi[start : start + step]
            m = process.cdist(
                [queries[i] for i in part],
                names,
                scorer=fuzz.ratio,
                score_cutoff=cutoff,
                dtype=np.uint8,
                workers=-1,
            )
            j = m.argmax(axis=1)  # first maximum: choices are sorted, so deterministic
            rows = np.arange(m.shape[0])
            bs = m[rows, j].astype(np.float64)
            bc = cc[j]
            other = np.where(cc[None, :] == bc[:, None], 0, m)
            best_c[part] = bc
            best_s[part] = bs
            second_s[part] = other.max(axis=1)
    return best_c, best_s, second_s


def _fuzzy(
    queries: list[str],
    choice_norms: list[str],
    choice_cust: np.ndarray,
    suggest_threshold: float,
    chunk_cells: int = 20_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best customer index, best score and best-other-customer score per query (0-100),
    comparing each query with the choices sharing its first or its last character."""
    nq, nc = len(queries), len(choice_norms)
    best_c = np.full(nq, -1, dtype=np.int64)
    best_s = np.zeros(nq, dtype=np.float64)
    second_s = np.zeros(nq, dtype=np.float64)
    if nq == 0 or nc == 0:
        return best_c, best_s, second_s
    cutoff = max(0, int(np.floor(suggest_threshold * 100)) - 1)
    results = [
        _block_best(
            queries,
            [q[pos] for q in queries],
            choice_norms,
            [c[pos] for c in choice_norms],
            choice_cust,
            cutoff,
            chunk_cells,
        )
        for pos in (0, -1)
    ]
    (c1, s1, o1), (c2, s2, o2) = results
    same = c1 == c2
    first_wins = (s1 > s2) | ((s1 == s2) & (c1 <= c2) & (c1 >= 0)) | (c2 < 0)
    best_c = np.where(same | first_wins, c1, c2)
    best_s = np.maximum(s1, s2)
    # best other customer: the other block's best when it is another customer
    other_best = np.where(first_wins, s2, s1)
    second_s = np.where(same, np.maximum(o1, o2), np.maximum(np.maximum(o1, o2), other_best))
    best_c = np.where(best_s > 0, best_c, -1)
    return best_c, best_s, second_s


def _prefix_matches(queries: list[str], prefixes: list[str], cust: list[str]) -> list[str | None]:
    """The customer whose name/alias (prefix key) starts with the query, when exactly one."""
    import bisect

    order = sorted(range(len(prefixes)), key=lambda j: prefixes[j])
    keys = [prefixes[j] for j in order]
    out: list[str | None] = []
    for q in queries:
        if q is None or len(q) < 6:
            out.append(None)
            continue
        lo = bisect.bisect_left(keys, q)
        hi = bisect.bisect_left(keys, q + "\U0010ffff")
        # the cut must keep most of the name: 'Delta Fo' is not 'Delta Foods Inc.'
        found = {
            cust[order[k]] for k in range(lo, min(hi, lo + 50)) if len(q) * 10 >= len(keys[k]) * 6
        }
        out.append(found.pop() if len(found) == 1 and hi - lo <= 50 else None)
    return out


def resolve_payers(
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    auto_threshold: float = 0.85,
    suggest_threshold: float = 0.75,
    margin: float = 0.05,
) -> pl.DataFrame:
    """Resolve every distinct ``(payer_name, payer_account)`` of ``receipts`` to a customer.

    Returns :data:`PAYERS_SCHEMA` columns, one row per distinct pair, sorted by
    ``payer_name, payer_account``; ``customer_id`` is null when ``method == 'none'``.
    Join it back on ``payer_name, payer_account`` (``nulls_equal=True``).
    """
    acct_col = (
        pl.col("payer_account").cast(pl.String)
        if "payer_account" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    pairs = (
        receipts.select(pl.col("payer_name").cast(pl.String), acct_col.alias("payer_account"))
        .unique()
        .sort(["payer_name", "payer_account"], nulls_last=True)
        .with_columns(
            normalize_name_expr(pl.col("payer_name")).alias("_norm"),
            normalize_account_expr(pl.col("payer_account")).alias("_acct"),
        )
    )
    customers = customers.with_columns(pl.col("customer_id").cast(pl.String))

    # 1. account
    accts = _split_col(customers, "payer_accounts").select(
        "customer_id", normalize_account_expr(pl.col("payer_accounts")).alias("_acct")
    )
    acct_map = _unique_key_map(accts, "_acct").rename({"customer_id": "_c_acct"})
    # 2./3. name and alias, then the same on the loose key
    choices = _choices(customers)

    def key_map(source: str, key: str, out: str) -> pl.DataFrame:
        m = choices.filter(pl.col("source") == source).select(key, "customer_id")
        return _unique_key_map(m.rename({key: "_k"}), "_k").rename(
            {"_k": {"norm": "_norm", "loose": "_loose"}[key], "customer_id": out}
        )

    pairs = (
        pairs.with_columns(loose_key_expr(pl.col("payer_name")).alias("_loose"))
        .join(acct_map, on="_acct", how="left")
        .join(key_map("name", "norm", "_c_name"), on="_norm", how="left")
        .join(key_map("alias", "norm", "_c_alias"), on="_norm", how="left")
        .join(key_map("name", "loose", "_c_lname"), on="_loose", how="left")
        .join(key_map("alias", "loose", "_c_lalias"), on="_loose", how="left")
        .with_columns(
            pl.coalesce("_c_name", "_c_lname").alias("_c_name"),
            pl.coalesce("_c_alias", "_c_lalias").alias("_c_alias"),
        )
        .with_columns(
            pl.coalesce("_c_acct", "_c_name", "_c_alias").alias("customer_id"),
            pl.when(pl.col("_c_acct").is_not_null())
            .then(pl.lit("account"))
            .when(pl.col("_c_name").is_not_null())
            .then(pl.lit("name"))
            .when(pl.col("_c_alias").is_not_null())
            .then(pl.lit("alias"))
            .otherwise(pl.lit("none"))
            .alias("method"),
        )
        .with_columns(pl.when(pl.col("method") != "none").then(1.0).otherwise(0.0).alias("score"))
    )

    # 4. fuzzy, on distinct normalised names still unresolved: truncated prefix, then ratio
    todo = (
        pairs.filter((pl.col("method") == "none") & pl.col("_norm").is_not_null())
        .select("_norm", _prefix_key_expr(pl.col("payer_name")).alias("_pfx"))
        .unique("_norm", keep="first")
        .sort("_norm")
    )
    fz_schema = {
        "_norm": pl.String,
        "_fz_c": pl.String,
        "_fz_s": pl.Float64,
        "_fz_2": pl.Float64,
    }
    fz = pl.DataFrame(schema=fz_schema)
    if todo.height and choices.height:
        ch = choices.sort(["norm", "customer_id"])
        queries = todo.get_column("_norm").to_list()
        pch = choices.drop_nulls("prefix")
        pfx = _prefix_matches(
            todo.get_column("_pfx").to_list(),
            pch.get_column("prefix").to_list(),
            pch.get_column("customer_id").to_list(),
        )
        cust_ids = ch.get_column("customer_id").unique().sort()
        cust_index = {c: i for i, c in enumerate(cust_ids.to_list())}
        choice_cust = np.array([cust_index[c] for c in ch.get_column("customer_id")], np.int64)
        bc, bs, s2 = _fuzzy(
            queries, ch.get_column("norm").to_list(), choice_cust, suggest_threshold
        )
        ids = cust_ids.to_list()
        fz_c: list[str | None] = [
            ids[c] if s > 0 and c >= 0 else None for c, s in zip(bc, bs, strict=True)
        ]
        fz_s, fz_2 = bs.copy(), s2.copy()
        # a truncated name: accepted when no other customer comes near it
        for k, p in enumerate(pfx):
            if p is None:
                continue
            other = s2[k] if fz_c[k] == p else bs[k]
            if other < suggest_threshold * 100:
                fz_c[k], fz_s[k], fz_2[k] = p, max(90.0, bs[k] if fz_c[k] == p else 0.0), other
        fz = pl.DataFrame(
            {"_norm": queries, "_fz_c": fz_c, "_fz_s": fz_s / 100.0, "_fz_2": fz_2 / 100.0},
            schema=fz_schema,
        )
    pairs = pairs.join(fz, on="_norm", how="left")
    unresolved = pl.col("method") == "none"
    auto = (
        unresolved
        & (pl.col("_fz_s") >= auto_threshold)
        & ((pl.col("_fz_s") - pl.col("_fz_2")) >= margin)
    )
    cand = unresolved & ~auto & (pl.col("_fz_s") >= suggest_threshold)
    pairs = pairs.with_columns(
        pl.when(auto).then(pl.col("_fz_c")).otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.when(auto).then(pl.lit("fuzzy")).otherwise(pl.col("method")).alias("method"),
        pl.when(auto).then(pl.col("_fz_s")).otherwise(pl.col("score")).alias("score"),
        pl.when(cand).then(pl.col("_fz_c")).otherwise(None).alias("candidate_id"),
        pl.when(cand).then(pl.col("_fz_s")).otherwise(None).alias("candidate_score"),
    )
    return pairs.select(list(PAYERS_SCHEMA)).cast(PAYERS_SCHEMA)
