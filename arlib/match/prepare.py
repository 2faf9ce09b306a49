"""Preparation shared by the rules: prepared frames, references, fx rates, tolerances.

``prep_*`` turn canonical frames into the engine's (row indexes, cents); ``extract_refs``
finds the invoices each receipt's text names; the rest are expressions several rules use.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.keying import transpositions
from arlib.match.config import MatchConfig
from arlib.match.frames import basis_points, col_or_null, ensure, sorted_unique
from arlib.match.ledger import Ledger
from arlib.money import cents_expr, to_cents
from arlib.payers import normalize_name_expr


def _sorted_unique(df: pl.DataFrame, key: str, what: str) -> pl.DataFrame:
    """:func:`arlib.match.frames.sorted_unique`, at no cost for a frame already sorted by
    a unique, non-null key (exports usually are): its sort would change nothing."""
    s = df.get_column(key)
    if s.null_count() == 0 and (s.len() < 2 or (s.slice(1) > s.slice(0, s.len() - 1)).all()):
        return df
    return sorted_unique(df, key, what)


def prep_invoices(invoices: pl.DataFrame, cfg: MatchConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    inv0 = _sorted_unique(
        invoices.with_columns(pl.col("invoice_id").cast(pl.String)), "invoice_id", "invoices"
    )
    start = pl.col("amt_c")
    if "open_amount" in inv0.columns:
        start = pl.coalesce(cents_expr(pl.col("open_amount")), start)
    key = (
        pl.col("invoice_id")
        .str.extract(cfg.invoice_key_pattern, 1)
        .str.replace_all(r"\D+", "")
        .str.strip_chars_start("0")
    )
    # each expression evaluated once (eager polars shares no sub-expression)
    inv = (
        inv0.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("inv_idx"),
            "invoice_id",
            pl.col("customer_id").cast(pl.String),
            pl.col("currency").cast(pl.String),
            pl.col("invoice_date").cast(pl.Date),
            pl.col("due_date").cast(pl.Date),
            cents_expr(pl.col("amount")).alias("amt_c"),
            key.alias("key"),
            *([pl.col("open_amount")] if "open_amount" in inv0.columns else []),
        )
        .with_columns(start.alias("start_c"), pl.col("key").replace("", None))
        .select(
            "inv_idx",
            "invoice_id",
            "customer_id",
            "currency",
            "invoice_date",
            "due_date",
            "amt_c",
            "start_c",
            "key",
        )
        # one chunk (a file's row groups are several): the rules gather invoices by
        # position, many times slower across chunks
        .rechunk()
    )
    return inv0, inv


def prep_customers(customers: pl.DataFrame) -> pl.DataFrame:
    c = customers.with_columns(pl.col("customer_id").cast(pl.String)).unique(
        "customer_id", keep="first", maintain_order=True
    )
    terms = col_or_null(c, "discount_terms", pl.String)
    bp, days = parse_discount(terms)
    return c.select(
        "customer_id",
        col_or_null(c, "parent_id", pl.String).alias("parent_id"),
        col_or_null(c, "policy", pl.String).str.strip_chars().str.to_lowercase().alias("policy"),
        bp.alias("disc_bp"),
        days.alias("disc_days"),
        terms.alias("discount_terms"),
    )


def prep_receipts(
    receipts: pl.DataFrame,
    payers: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    memo_names: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The engine's receipts: row index, cents, the resolved payer (``c_pay``, its method
    and score, ``candidates`` when the payer is one of several customers) and its master
    data. A receipt without payer name whose memo names customers (``memo_names``,
    :func:`arlib.payers.memo_payers`) gets them as candidates (method ``memo_name``)."""
    rec0 = _sorted_unique(
        receipts.with_columns(pl.col("receipt_id").cast(pl.String)), "receipt_id", "receipts"
    )
    rec0 = ensure(
        rec0,
        {
            "payer_name": pl.String,
            "payer_account": pl.String,
            "memo": pl.String,
            "bank_ref": pl.String,
        },
    )
    rec = rec0.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rec_idx"),
        "receipt_id",
        pl.col("value_date").cast(pl.Date),
        pl.col("currency").cast(pl.String),
        cents_expr(pl.col("amount")).alias("amt_c"),
        pl.col("payer_name").cast(pl.String),
        pl.col("payer_account").cast(pl.String),
        pl.col("memo").cast(pl.String),
        pl.col("bank_ref").cast(pl.String),
        col_or_null(rec0, "origin", pl.String).alias("origin"),
    )
    rec = (
        _join_payers(rec, payers)
        .rename({"customer_id": "c_pay", "method": "payer_method", "score": "payer_score"})
        .with_columns(
            pl.col("payer_method").fill_null("none"), pl.col("payer_score").fill_null(0.0)
        )
    )
    rec = ensure(rec, {"candidates": pl.List(pl.String)})
    if memo_names is not None and memo_names.height:
        named = memo_names.select(
            "memo", pl.col("candidates").alias("_m_c"), pl.col("score").alias("_m_s")
        )
        rec = rec.join(named, on="memo", how="left")
        # the payer names that normalise to nothing, each distinct name once
        names = rec.get_column("payer_name").unique().drop_nulls().to_frame()
        blank = names.filter(normalize_name_expr(pl.col("payer_name")).is_null())
        by_memo = (
            (pl.col("payer_method") == "none")
            & (
                pl.col("payer_name").is_null()
                | pl.col("payer_name").is_in(blank.get_column("payer_name").implode())
            )
            & pl.col("_m_c").is_not_null()
        )
        rec = rec.with_columns(
            pl.when(by_memo)
            .then(pl.lit("memo_name"))
            .otherwise("payer_method")
            .alias("payer_method"),
            pl.when(by_memo).then("_m_s").otherwise("payer_score").alias("payer_score"),
            pl.when(by_memo).then("_m_c").otherwise("candidates").alias("candidates"),
        ).drop("_m_c", "_m_s")
    rec = rec.join(
        cust.select("customer_id", pl.col("parent_id").alias("par_pay"), "policy"),
        left_on="c_pay",
        right_on="customer_id",
        how="left",
    ).with_columns(
        pl.any_horizontal(
            pl.col(c).str.contains(INSTALMENT_MEMO).fill_null(False) for c in ("memo", "bank_ref")
        ).alias("inst")
    )
    if not rec.get_column("rec_idx").is_sorted():
        rec = rec.sort("rec_idx")
    return rec0, rec.rechunk()  # one chunk, like the invoices


def _join_payers(rec: pl.DataFrame, payers: pl.DataFrame) -> pl.DataFrame:
    """``rec.join(payers, on=["payer_name", "payer_account"], how="left",
    nulls_equal=True)`` on the hash of the pair (two string keys cost a row encoding of a
    million rows), the pairs compared after; a hash two pairs share (never seen) takes the
    plain join."""
    pair = pl.struct(pl.col("payer_name").cast(pl.String), pl.col("payer_account").cast(pl.String))
    right = payers.with_columns(pair.hash().alias("_h"), pl.lit(True).alias("_hit")).rename(
        {"payer_name": "_pn", "payer_account": "_pa"}
    )
    j = rec.with_columns(pair.hash().alias("_h")).join(right, on="_h", how="left")
    same = pl.col("payer_name").eq_missing(pl.col("_pn")) & pl.col("payer_account").eq_missing(
        pl.col("_pa")
    )
    if not j.select((pl.col("_hit").is_null() | same).all()).item():
        return rec.join(payers, on=["payer_name", "payer_account"], how="left", nulls_equal=True)
    return j.drop("_h", "_pn", "_pa", "_hit")


#: a memo announcing an instalment (第2期, 分期, installment 2/3): a short amount is a partial
#: payment, never a bank charge written off
INSTALMENT_MEMO = r"(?i)第\s*\d+\s*期|分期|\binstal(?:l)?ments?\b"


REF_SCHEMA = {"rec_idx": pl.Int64, "inv_idx": pl.Int64, "src": pl.String, "text": pl.String}


def extract_refs(
    rec: pl.DataFrame,
    inv: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    invoice_columns: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(rec_idx, inv_idx, src, text): every existing invoice a receipt's text names."""
    return references(rec, inv, cust, cfg, invoice_columns)[0]


def references(
    rec: pl.DataFrame,
    inv: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    invoice_columns: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, list[int]]:
    """(refs, shared): every existing invoice a receipt's text names (by its number, or by
    a customer's reference in ``invoice_reference_columns`` of ``invoice_columns``, the
    canonical invoices in ``inv`` order), and the receipts one of whose references names
    several invoices open at the start (``unique_reference_only`` holds them back)."""
    cols = [col for col in cfg.reference_columns if col in rec.columns]
    named = _named_by_number(rec, cols, _invoice_numbers(inv), cfg)
    shared = named.filter("_several").get_column("rec_idx")
    own_refs = customer_refs(rec, inv, cust, cfg, invoice_columns)
    extra = [own_refs.select(list(REF_SCHEMA)).cast(REF_SCHEMA)]
    if own_refs.height:
        # (an own reference, icol:word, is never a number)
        own = (
            own_refs.join(
                inv.filter(pl.col("start_c") > 0).select("inv_idx"), on="inv_idx", how="semi"
            )
            .group_by("rec_idx", "ref")
            .agg(pl.col("inv_idx").n_unique().alias("n"))
            .filter(pl.col("n") > 1)
            .get_column("rec_idx")
        )
        shared = pl.concat([shared, own])
    if cfg.reference_short_own and cfg.reference_min_digits > 1:
        has_refs = np.zeros(rec.height, dtype=bool)
        for part in (named, own_refs):
            has_refs[part.get_column("rec_idx").to_numpy()] = True
        extra.append(short_own_refs(rec, inv, cust, cfg, has_refs).cast(REF_SCHEMA))
    refs = _first_per_pair(rec, cols, named, pl.concat(extra))
    return refs, shared.unique().sort().to_list()


def _invoice_numbers(inv: pl.DataFrame) -> pl.DataFrame:
    """(inv_idx, key, _n, _several): the invoices' numbers, and whether several open
    invoices carry each (a receipt naming such a number names several open invoices)."""
    keys = inv.select("inv_idx", "key", "start_c").drop_nulls("key").with_columns(_number())
    carried = keys.filter(pl.col("start_c") > 0)
    n = np.sort(carried.get_column("_n").drop_nulls().to_numpy())
    n_twice = pl.Series(np.unique(n[1:][n[1:] == n[:-1]]), dtype=pl.Int64)
    s_twice = carried.filter(pl.col("_n").is_null()).get_column("key")
    s_twice = s_twice.filter(s_twice.is_duplicated())
    return keys.select(
        "inv_idx",
        "key",
        "_n",
        (
            pl.col("_n").is_in(n_twice.implode())
            | (pl.col("_n").is_null() & pl.col("key").is_in(s_twice.implode()))
        ).alias("_several"),
    )


def _named_by_number(
    rec: pl.DataFrame, cols: list[str], keys: pl.DataFrame, cfg: MatchConfig
) -> pl.DataFrame:
    """(rec_idx, inv_idx, col, _several): the invoices whose number a match of
    ``reference_patterns`` in ``rec[cols[col]]`` is, integers only (the text is gathered
    for the references kept, :func:`_first_per_pair`)."""
    out = {"rec_idx": pl.Int64, "inv_idx": pl.Int64, "col": pl.Int64, "_several": pl.Boolean}
    if not cols:
        return pl.DataFrame(schema=out)
    # the columns' matches in one select: polars runs the regexes side by side
    found = rec.select(
        (
            pl.col(col).str.extract_all(cfg.reference_patterns[0])
            if len(cfg.reference_patterns) == 1
            else pl.concat_list([pl.col(col).str.extract_all(p) for p in cfg.reference_patterns])
        ).alias(str(k))
        for k, col in enumerate(cols)
    )
    rec_idx = rec.get_column("rec_idx").to_numpy()
    toks = pl.concat(
        [
            pl.DataFrame(
                {
                    "rec_idx": np.repeat(rec_idx, lists.list.len().fill_null(0).to_numpy()),
                    "tok": lists.explode(empty_as_null=False, keep_nulls=False),
                }
            ).with_columns(pl.lit(k, dtype=pl.Int64).alias("col"))
            for k, lists in enumerate(found.iter_columns())
        ]
    )
    # a number longer than every invoice's names none: dropped before the join
    longest = keys.get_column("key").str.len_chars().max() or 0
    key = pl.col("digits").str.strip_chars_start("0")
    enough = pl.col("digits").str.len_chars() >= max(1, cfg.reference_min_digits)

    def numbers(t: pl.DataFrame, digits: pl.Expr, letters: bool) -> pl.DataFrame:
        """The tokens whose digits (leading zeros stripped) may be an invoice's number:
        enough digits, or letters in the match (a prefix such as INV / 发票号)."""
        t = t.with_columns(digits.alias("digits")).with_columns(key.alias("key"))
        t = t.filter(pl.col("key").str.len_chars().is_between(1, longest))
        if not letters:
            return t.filter(enough)
        few = t.filter(~enough).filter(pl.col("tok").str.contains(r"[\p{L}]"))
        return pl.concat([t.filter(enough), few])

    # a match of ASCII digits only (most: bare numbers, bank references) is its own digits
    # and has no letter: no regex for it; longer than every invoice's number without a
    # leading zero, it names none
    plain = ~toks.get_column("tok").str.contains("[^0-9]")
    fits = (pl.col("tok").str.len_bytes() <= longest) | pl.col("tok").str.starts_with("0")
    toks = pl.concat(
        [
            numbers(toks.filter(plain).filter(fits), pl.col("tok"), letters=False),
            numbers(toks.filter(~plain), pl.col("tok").str.replace_all(r"\D+", ""), letters=True),
        ]
    ).select("rec_idx", "col", "key", _number())
    several = ["inv_idx", "_several"]
    return pl.concat(
        [
            _by_number(toks.drop_nulls("_n"), keys.drop_nulls("_n")),
            toks.filter(pl.col("_n").is_null()).join(
                keys.filter(pl.col("_n").is_null()).select("key", *several), on="key"
            ),
        ],
        how="diagonal",
    ).select(list(out))


def _by_number(toks: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """``toks.join(keys, on="_n")`` (rec_idx, col, inv_idx, _several), in ``toks`` order where
    one invoice carries the number: invoices' numbers are usually dense (1 to n), so a
    table indexed by the number finds each one without hashing; sparse numbers, and those
    several invoices carry, are joined."""
    cols = ["rec_idx", "col", "inv_idx", "_several"]
    n = keys.get_column("_n").to_numpy()
    if n.size == 0 or n.min() < 0 or n.max() > 4 * n.size + 4096:
        return toks.join(keys.select("_n", "inv_idx", "_several"), on="_n").select(cols)
    carriers = np.bincount(n)
    row = np.zeros(carriers.size, dtype=np.int64)
    row[n] = np.arange(n.size)
    q = toks.get_column("_n").to_numpy()
    found = np.zeros(q.size, dtype=np.int64)
    inside = np.flatnonzero(q < carriers.size)
    found[inside] = carriers[q[inside]]
    one = np.flatnonzero(found == 1)
    at = pl.Series(row[q[one]])
    single = pl.DataFrame(
        {
            "rec_idx": toks.get_column("rec_idx").to_numpy()[one],
            "col": toks.get_column("col").to_numpy()[one],
            "inv_idx": keys.get_column("inv_idx").gather(at),
            "_several": keys.get_column("_several").gather(at),
        }
    )
    if not (found > 1).any():
        return single
    several = toks.filter(pl.Series(found > 1)).join(
        keys.filter(pl.Series(carriers[n] > 1)).select("_n", "inv_idx", "_several"), on="_n"
    )
    return pl.concat([single, several.select(cols)])


def _number() -> pl.Expr:
    """A number (digits, no leading zero) as an integer, null beyond Int64 or in other
    digits than 0-9: equal integers are equal numbers (integer keys join far faster)."""
    return pl.col("key").cast(pl.Int64, strict=False).alias("_n")


def _first_per_pair(
    rec: pl.DataFrame, cols: list[str], named: pl.DataFrame, extra: pl.DataFrame
) -> pl.DataFrame:
    """The references (REF_SCHEMA) of ``named`` (:func:`_named_by_number`) and ``extra``
    sorted by (rec_idx, inv_idx, src), the first of each (rec_idx, inv_idx) pair: by one
    integer sort key (``src`` by its rank among the few sources), then the texts gathered
    for the rows kept (a number's text is its column of the receipt). Rows equal on all
    three are equal on ``text`` too (the text of that column of that receipt): their order
    is no matter."""
    srcs = sorted(set(cols) | set(extra.get_column("src").unique().to_list()))
    rank = {s: k for k, s in enumerate(srcs)}
    col = named.get_column("col").to_numpy()
    r = np.concatenate([named.get_column("rec_idx").to_numpy(), extra.get_column("rec_idx")])
    i = np.concatenate([named.get_column("inv_idx").to_numpy(), extra.get_column("inv_idx")])
    s = np.concatenate(
        [
            np.array([rank[c] for c in cols], dtype=np.int64)[col],
            extra.get_column("src").replace_strict(rank, return_dtype=pl.Int64).to_numpy(),
        ]
    )
    if r.size == 0:
        return pl.DataFrame(schema=REF_SCHEMA)
    # where each text is: texts = the columns one after the other, then extra's
    at = np.concatenate(
        [col * rec.height + r[: col.size], len(cols) * rec.height + np.arange(extra.height)]
    )
    pair = r * (i.max() + 1) + i
    order = np.argsort(pair * len(srcs) + s, kind="stable")
    pair = pair[order]
    first = np.ones(pair.size, dtype=bool)
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    keep = order[first]
    texts = pl.concat([*(rec.get_column(c) for c in cols), extra.get_column("text")]).rechunk()
    return pl.DataFrame(
        {
            "rec_idx": r[keep],
            "inv_idx": i[keep],
            "src": pl.Series(srcs, dtype=pl.String).gather(s[keep]),
            "text": texts.gather(at[keep]),
        },
        schema=REF_SCHEMA,
    )


#: the words of a memo a customer's reference is compared with: text between blanks and
#: these separators, a full stop at either end dropped (a1b2c3 in 'PO#a1b2c3, thanks.')
REF_WORD = r"[^\s,，;；:：、()（）\[\]【】{}<>《》\"“”'‘’#＃]+"


def customer_refs(
    rec: pl.DataFrame,
    inv: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    invoice_columns: pl.DataFrame | None,
) -> pl.DataFrame:
    """(rec_idx, inv_idx, src, text, ref): invoices named by the customer's own reference
    (``invoice_reference_columns``, e.g. po_number): a word of the receipt's text equal to
    it, case aside. Customers choose their references, so two customers may use the same
    one: it names invoices of the resolved payer's own customer or of a related company
    only; for an unidentified payer, only when every invoice carrying it is one
    customer's."""
    schema = {**REF_SCHEMA, "ref": pl.String}
    if invoice_columns is None or not cfg.invoice_reference_columns:
        return pl.DataFrame(schema=schema)
    values = [
        invoice_columns.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("inv_idx"),
            pl.col(icol).cast(pl.String).str.strip_chars().str.to_lowercase().alias("word"),
            pl.lit(icol).alias("icol"),
        ).filter(pl.col("word").str.len_chars() > 0)
        for icol in cfg.invoice_reference_columns
        if icol in invoice_columns.columns
    ]
    words = [
        rec.select(
            "rec_idx",
            "c_pay",
            "par_pay",
            pl.col(col).alias("text"),
            pl.col(col).str.to_lowercase().str.extract_all(REF_WORD).alias("word"),
            pl.lit(col).alias("col"),
        )
        .drop_nulls("text")
        .explode("word")
        .with_columns(pl.col("word").str.strip_chars("."))
        .filter(pl.col("word").str.len_chars() > 0)
        .unique(["rec_idx", "col", "word"], maintain_order=True)
        for col in cfg.reference_columns
        if col in rec.columns
    ]
    if not values or not words:
        return pl.DataFrame(schema=schema)
    carriers = (
        pl.concat(values)
        .join(inv.select("inv_idx", pl.col("customer_id").alias("c_inv")), on="inv_idx")
        .join(
            cust.select(pl.col("customer_id").alias("c_inv"), pl.col("parent_id").alias("par_inv")),
            on="c_inv",
            how="left",
        )
    )
    hits = pl.concat(words).join(carriers, on="word", how="inner")
    known = pl.col("c_pay").is_not_null()
    mine = (pl.col("c_pay") == pl.col("c_inv")) | is_related().fill_null(False)
    one_customer = pl.col("c_inv").n_unique().over(["rec_idx", "col", "word"]) == 1
    hits = hits.filter((known & mine) | (~known & one_customer))
    return hits.select(
        "rec_idx",
        "inv_idx",
        pl.format("{} ({})", "col", "icol").alias("src"),
        "text",
        pl.format("{}:{}", "icol", "word").alias("ref"),
    ).cast(schema)


# instalment markers and counts whose digits are no invoice number: 第2期, 2期, 2/3,
# 2 of 3, installment 2, part 2, #2 of 3
SHORT_MARKERS = (
    r"(?i)\d+\s*(?:/|of)\s*\d+",
    r"(?i)第\s*\d+\s*[期笔次批]|\d+\s*[期笔次批个件张]"
    r"|(?:instal(?:l)?ments?|tranche|part|phase|payment|pmt|期)\s*#?\s*\d+",
)


def short_own_refs(
    rec: pl.DataFrame,
    inv: pl.DataFrame,
    cust: pl.DataFrame,
    cfg: MatchConfig,
    has_refs: np.ndarray,
) -> pl.DataFrame:
    """Short bare numbers (fewer than ``reference_min_digits`` digits, e.g. memo ``556`` or
    ``556 第2期``) naming an open invoice of the resolved payer's own customer.

    Only when the receipt's payer is resolved, the text column holds exactly one such
    stand-alone number (instalment markers like 第2期 / 2/3 removed first), the receipt names
    no invoice otherwise (``has_refs``, by rec_idx), and exactly one open invoice of that
    customer has that number.
    Failing that, a related company's (parent, subsidiary or sibling) invoice with that number
    *and* the receipt's exact amount, when exactly one does: a parent paying its
    subsidiary's invoice (flagged ``third_party`` by the reference rule). An unrelated
    customer's invoice is never named this way."""
    schema = REF_SCHEMA
    parts = []
    # such a number is a whole digit run of the text (the markers removed never split one)
    short = rf"(?:^|\D)\d{{1,{cfg.reference_min_digits - 1}}}(?:\D|$)"
    for col in cfg.reference_columns:
        if col not in rec.columns:
            continue
        t = (
            rec.select("rec_idx", "c_pay", "currency", "amt_c", pl.col(col).alias("text"))
            .filter(pl.Series(~has_refs))
            .drop_nulls(["c_pay", "text"])
            .filter(pl.col("text").str.contains(short))
        )
        words = (
            t.with_columns(
                pl.col("text")
                .str.replace_all(SHORT_MARKERS[0], " ")
                .str.replace_all(SHORT_MARKERS[1], " ")
                .str.extract_all(r"[^\s,，;；、()（）\[\]【】]+")
                .alias("word"),
                pl.lit(col).alias("src"),
            )
            .explode("word")
            .filter(pl.col("word").str.contains(r"^[#＃]?\d+$"))
            .with_columns(pl.col("word").str.replace_all(r"\D+", "").alias("digits"))
            .filter(pl.col("digits").str.len_chars() < cfg.reference_min_digits)
            .with_columns(pl.col("digits").str.strip_chars_start("0").alias("key"))
            .filter(pl.col("key").str.len_chars() > 0)
        )
        # exactly one stand-alone short number in the text: '9 15' could be a date
        words = words.filter(pl.len().over("rec_idx") == 1)
        parts.append(words.select("rec_idx", "c_pay", "currency", "amt_c", "key", "src", "text"))
    if not parts:
        return pl.DataFrame(schema=schema)
    words = pl.concat(parts)
    # the invoices with one of these numbers
    numbered = inv.filter(pl.col("key").is_in(words.get_column("key").unique().implode()))
    own = numbered.filter(pl.col("start_c") > 0).select(
        "inv_idx", pl.col("customer_id").alias("c_pay"), "key"
    )
    hits = words.join(own, on=["c_pay", "key"], how="inner")
    hits = hits.filter(pl.len().over(["rec_idx", "src"]) == 1)
    parents = cust.select("customer_id", "parent_id")
    related = (
        words.join(hits.select("rec_idx"), on="rec_idx", how="anti")
        .join(
            numbered.select(
                "inv_idx",
                pl.col("customer_id").alias("c_inv"),
                "currency",
                "key",
                pl.col("start_c").alias("amt_c"),
            ),
            on=["currency", "key", "amt_c"],
        )
        .filter(pl.col("c_inv") != pl.col("c_pay"))
        .join(
            parents.rename({"customer_id": "c_pay", "parent_id": "par_pay"}), on="c_pay", how="left"
        )
        .join(
            parents.rename({"customer_id": "c_inv", "parent_id": "par_inv"}), on="c_inv", how="left"
        )
        .filter(is_related())
        .filter(pl.len().over(["rec_idx", "src"]) == 1)
    )
    return pl.concat([hits.select(list(schema)), related.select(list(schema))]).cast(schema)


def fx_table(fx_rates: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"date": pl.Date, "currency": pl.String, "rate_i": pl.Int128}
    if fx_rates is None or fx_rates.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        fx_rates.select(
            pl.col("date").cast(pl.Date),
            pl.col("currency").cast(pl.String),
            (pl.col("rate").cast(pl.Decimal(38, 8)) * 100_000_000).cast(pl.Int128).alias("rate_i"),
        )
        .filter(pl.col("rate_i") > 0)
        .unique(["date", "currency"], keep="first")
        .sort(["currency", "date"])
    )


def with_rate(
    df: pl.DataFrame, ccy_col: str, out: str, fx: pl.DataFrame, base: str, cfg: MatchConfig
) -> pl.DataFrame:
    """Add the rate (units of base per unit, x1e8, Int128) of ``ccy_col`` at value_date."""
    left = df.with_columns(pl.int_range(pl.len()).alias("_row")).sort("value_date")
    j = left.join_asof(
        fx.rename({"date": "value_date", "currency": ccy_col, "rate_i": out}).sort("value_date"),
        on="value_date",
        by=ccy_col,
        strategy="backward",
        tolerance=f"{int(cfg.fx_max_rate_age_days)}d",
        check_sortedness=False,
    )
    j = j.with_columns(
        pl.when(pl.col(ccy_col) == base)
        .then(pl.lit(100_000_000, dtype=pl.Int128))
        .otherwise(pl.col(out))
        .alias(out)
    )
    return j.sort("_row").drop("_row")


def rate_py(fx: pl.DataFrame, ccy: str, day, base: str, cfg: MatchConfig) -> int | None:
    if ccy == base:
        return 100_000_000
    f = fx.filter(
        (pl.col("currency") == ccy)
        & (pl.col("date") <= day)
        & (pl.col("date") >= pl.lit(day) - pl.duration(days=cfg.fx_max_rate_age_days))
    )
    if f.height == 0:
        return None
    return int(f.sort("date").get_column("rate_i")[-1])


def is_related() -> pl.Expr:
    """Payer ``c_pay`` and invoice customer ``c_inv`` (another customer) are related by
    ``parent_id`` (``par_pay``, ``par_inv``): parent, subsidiary, or two subsidiaries of
    one parent."""
    return (
        (pl.col("par_pay") == pl.col("c_inv"))
        | (pl.col("par_inv") == pl.col("c_pay"))
        | (pl.col("par_pay") == pl.col("par_inv"))
    )


def with_invoice_customer(frame: pl.DataFrame, cust: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its invoice customer's (``c_inv``) parent and discount terms."""
    return frame.join(
        cust.select(
            pl.col("customer_id").alias("c_inv"),
            pl.col("parent_id").alias("par_inv"),
            "disc_bp",
            "disc_days",
            "discount_terms",
        ),
        on="c_inv",
        how="left",
        maintain_order="left",
    )


def ref_candidates(
    ledger: Ledger, receipts: pl.DataFrame, refs: pl.DataFrame, cust: pl.DataFrame
) -> pl.DataFrame:
    """``receipts`` x the open invoices they name, with the payer's relation to the
    invoice's customer (own, related, other, unknown) and the amounts."""
    # the references of these receipts to invoices still open; rec_idx and inv_idx are
    # positions, so the receipts' and invoices' columns are gathered, not joined
    wanted = np.zeros(ledger.rec.height, dtype=bool)
    wanted[receipts.get_column("rec_idx").to_numpy()] = True
    ri, ii = refs.get_column("rec_idx").to_numpy(), refs.get_column("inv_idx").to_numpy()
    c = refs.filter(pl.Series(wanted[ri] & (ledger.inv_open[ii] > 0)))
    ri, ii = c.get_column("rec_idx"), c.get_column("inv_idx")
    rec, inv = ledger.rec, ledger.inv
    c = c.with_columns(
        *(rec.get_column(name).gather(ri) for name in ("receipt_id", "value_date")),
        rec.get_column("currency").gather(ri).alias("r_ccy"),
        *(
            rec.get_column(name).gather(ri)
            for name in ("amt_c", "c_pay", "par_pay", "payer_method", "payer_score", "inst")
        ),
        rec.get_column("payer_name").gather(ri),
        inv.get_column("invoice_id").gather(ii),
        inv.get_column("customer_id").gather(ii).alias("c_inv"),
        inv.get_column("currency").gather(ii).alias("i_ccy"),
        inv.get_column("invoice_date").gather(ii),
        inv.get_column("amt_c").gather(ii).alias("inv_amt_c"),
        pl.Series("open_c", ledger.inv_open).gather(ii),
    ).pipe(with_invoice_customer, cust)
    c = ledger.drop_rejected(c)
    rel = (
        pl.when(pl.col("c_pay").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("c_pay") == pl.col("c_inv"))
        .then(pl.lit("own"))
        .when(is_related())
        .then(pl.lit("related"))
        .otherwise(pl.lit("other"))
    )
    return c.with_columns(rel.alias("rel"))


def bank_charge_cap(cfg: MatchConfig, ccy: str) -> pl.Expr:
    """The currency's bank-charge cap in cents (``bank_charge_max``, '*' for the rest)."""
    bc_map = {k: to_cents(v) for k, v in cfg.bank_charge_max.items()}
    return pl.col(ccy).replace_strict(bc_map, default=bc_map.get("*", 0), return_dtype=pl.Int64)


def bank_charge_bp(cfg: MatchConfig) -> int:
    return basis_points(cfg.bank_charge_max_pct)


def bank_charge_limit(cfg: MatchConfig, ccy: str, open_col: str) -> pl.Expr:
    """Largest bank charge for the row: the currency's cap, and at most
    ``bank_charge_max_pct`` of the open amount (integer cents, floor)."""
    return pl.min_horizontal(
        bank_charge_cap(cfg, ccy), pl.col(open_col) * bank_charge_bp(cfg) // 10_000
    )


def round_sum(received: pl.Expr, open_: pl.Expr) -> pl.Expr:
    """A round sum (whole hundreds) against an amount that is not: an installment or a
    payment on account, not the invoice minus a fee."""
    return (received % 10_000 == 0) & (open_ % 10_000 != 0)


def cash_rows(
    c: pl.DataFrame,
    *,
    applied: pl.Expr,
    meta: list[pl.Expr],
    received: pl.Expr | None = None,
    proposal: pl.Expr | None = None,
    rank: pl.Expr | None = None,
) -> pl.DataFrame:
    """Cash allocation rows (:data:`arlib.match.cascade.PROPOSAL_ROWS`): each row
    of ``c`` (value_date, receipt_id, rec_idx, inv_idx) clears ``applied`` cents of its
    invoice with ``received`` cents of its receipt (default: the same). ``meta`` gives rule,
    rule_id, reason and flags; ``proposal`` and ``rank`` the proposal's number and rank
    (default: ``c``'s number, rank 0)."""
    return c.select(
        pl.col("proposal") if proposal is None else proposal.alias("proposal"),
        pl.lit(0, dtype=pl.Int64).alias("rank") if rank is None else rank.alias("rank"),
        "value_date",
        "receipt_id",
        "rec_idx",
        "inv_idx",
        pl.lit("cash").alias("kind"),
        applied.alias("applied_c"),
        (applied if received is None else received).alias("receipt_c"),
        *meta,
    )


def cash_with_write_off(
    c: pl.DataFrame,
    *,
    applied: pl.Expr,
    received: pl.Expr,
    write_off_kind: pl.Expr,
    write_off: pl.Expr,
    write_off_rows: pl.Expr,
    meta: list[pl.Expr],
) -> pl.DataFrame:
    """Allocation rows for an invoice cleared by cash plus a write-off: the cash row, and
    for ``write_off_rows`` a row of ``write_off_kind`` that clears ``write_off`` cents of the
    invoice and consumes no cash. ``meta`` gives rule, rule_id, reason and flags; ``c`` has
    the proposal's number and rank (:func:`arlib.match.cascade.numbered`)."""
    keys = ("proposal", "rank", "value_date", "receipt_id", "rec_idx", "inv_idx")
    cash = cash_rows(c, applied=applied, received=received, meta=meta, rank=pl.col("rank"))
    written_off = c.filter(write_off_rows).select(
        *keys,
        write_off_kind.alias("kind"),
        write_off.alias("applied_c"),
        pl.lit(0, dtype=pl.Int64).alias("receipt_c"),
        *meta,
    )
    return pl.concat([cash, written_off])


def parse_discount(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """'2/10 net 30' -> (basis points 200, days 10)."""
    pat = r"^\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+)"
    pct = expr.str.extract(pat, 1).cast(pl.Decimal(38, 4))
    bp = (pct * 100).cast(pl.Int64)
    days = expr.str.extract(pat, 2).cast(pl.Int64)
    return bp, days


def exact_keying_errors(amount: int) -> set[int]:
    """The amounts ``e`` that ``amount`` is an exact keying error of (:mod:`arlib.keying`):
    ``e`` with two adjacent digits swapped, or ``e`` x10 / x100. The rounded x10 / x100
    readings (``e`` about ten or a hundred times ``amount``) are ranges, searched apart."""
    return transpositions(amount) | {amount // d for d in (10, 100) if amount % d == 0}


def in_date_window(cfg: MatchConfig) -> pl.Expr:
    """The invoice is dated at most ``date_window_days`` before the receipt's value date
    and ``date_window_prepay_days`` after it (a prepayment)."""
    value_date = pl.col("value_date")
    return pl.col("invoice_date").is_between(
        value_date - pl.duration(days=cfg.date_window_days),
        value_date + pl.duration(days=cfg.date_window_prepay_days),
    )
