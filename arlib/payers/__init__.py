"""Payer resolution: which customer -- or which candidate customers -- sent a bank receipt.

A bank line names a payer (``payer_name``, sometimes ``payer_account``, often neither);
matching needs a ``customer_id``. Resolution works on the distinct ``(payer_name,
payer_account)`` pairs, not on receipt rows (a million receipts have far fewer distinct
payers). It gives either one customer (``customer_id``, ``method``, ``score``) or, when the
name cannot tell one customer from others, the list of those customers (``candidates``):
matching then lets a reference or an exact amount among *their* open invoices decide
(:mod:`arlib.match.rules.candidates`). In this order:

1. ``account`` -- the payer account is listed in exactly one customer's ``payer_accounts``
   ('|'-separated; compared without spaces/hyphens, upper-cased).
2. ``name``    -- the normalised payer name equals exactly one customer's normalised name.
3. ``alias``   -- the normalised payer name equals exactly one customer's normalised alias.
   Then the same two look-ups on the *loose* key (:func:`loose_key_expr`: a parenthesised
   Chinese place moved to the front, ``上海（华东）`` style, and the ``市`` after a leading
   city dropped), so ``佳禾家电贸易（厦门）有限公司`` is ``厦门市佳禾家电贸易有限公司``
   (method ``name`` / ``alias``).
4. ``ambiguous`` -- the account, or the name / alias (exact or loose), belongs to several
   customers (a short alias, a trade name used in several cities, a group's treasury
   account): ``candidates`` lists them all.
5. ``fuzzy`` / ``fuzzy_candidates`` -- on the *distinct* names still unresolved. Candidate
   customers come from an inverted index of discriminating tokens (character bigrams and
   trigrams, adjacent characters in either order, characters one apart, digit runs,
   words): each name looks up its rarest tokens while the names having them stay within a
   budget, and only those pairs are scored (``rapidfuzz.process.cdist`` per token for the
   names sharing it, ``cpdist`` for the rest); a name made only of what many customer names
   share is compared with nobody there. A name that comes near a customer is also compared
   with the names of its *frames* (same first and last characters, at most a few thousand
   names each): who else a slip in the middle of the name comes as near, so that a close
   rival is never missed. Never all pairs. A pair scores the best of ``fuzz.ratio`` on the
   normalised names, on the loose keys, and ``fuzz.token_sort_ratio`` on the words
   (reordered words).
   Besides the score, a pair is *shortened* when the payer name is a contiguous run of the
   customer's name (whole words; in Chinese at least four characters) covering at least
   60 % of it (``Huaxin Trading`` of ``Huaxin Trading (Shanghai)``, ``华润五金贸易`` of
   ``上海华润五金贸易``), *truncated* when the name before suffix stripping is a prefix of
   the customer's (at least 6 characters and 60 %: a cut bank field), and *glued* when the
   customer's whole normalised name (at least 4 Chinese / 6 other characters), the longest
   such, is inside the payer text (``ACME TRADING LTD/PAYMENT``, ``...有限公司往来款``),
   and a *slip* when it is one keying slip from the customer's name (a character replaced,
   doubled, dropped, or two swapped; at least 4 Chinese / 6 other characters: a 6-character
   Chinese name with one wrong character scores only 0.83).
   The best customer is ``fuzzy`` (resolved, score = its ratio / 100) when it scores at
   least ``auto_threshold``, beats every other compared customer by ``margin``, and no
   other customer's name is one the payer's is shortened or truncated from; a
   truncation of exactly one customer that nobody else comes near (below
   ``suggest_threshold``) counts as 0.9. Otherwise the payer is ``fuzzy_candidates``:
   every customer at ``auto_threshold`` or within ``margin`` of a best that is, and every
   customer the name is shortened, truncated, glued or one slip from. A best score below that but at
   least ``suggest_threshold`` is only a *candidate* (``candidate_id``/``candidate_score``,
   method ``none``): matching may suggest it, never allocate on it.
6. ``none``    -- nothing above.

More than ``max_candidates`` candidates identify nobody (method ``none``). With no payer
name at all, :func:`memo_payers` looks for customers' names in the receipt's memo
(``memo_name``, always candidates).

Normalisation (:func:`normalize_name`): Unicode NFKC (full/half width), lower case,
punctuation and symbols to spaces, trailing company suffixes removed (有限责任公司,
股份有限公司, 有限公司, 公司, truncated 有限公/有限, co., ltd., co.,ltd, limited, inc., llc,
gmbh, corp., ...),
then all whitespace removed. A name that is only a suffix normalises to null.

Scores are 0-1: exact methods and ``ambiguous`` score 1.0, fuzzy ones the best ratio / 100.
"""

from __future__ import annotations

import numpy as np
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

_PUNCT = r"[\p{P}\p{S}\s]+"
_EN_SUFFIX = (
    r"(?:\s+(?:co|company|ltd|limited|inc|incorporated|llc|l\s?l\s?c|gmbh|corp|corporation"
    r"|plc|pte|pty|sa|ag|bv|kk|group))+\s*$"
)
_ZH_SUFFIX = r"(?:有限责任公司|股份有限公司|集团有限公司|有限公司|集团公司|公司|有限公|有限)$"
_HAN = r"\p{Han}"
#: separators other than the space that rapidfuzz's token scorers split words at
_SPLIT = r"[\x1c-\x1f]"

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

#: characters of a payer name or memo the fuzzy stage reads (bank fields are far shorter)
FUZZY_MAX_CHARS = 200
#: the inverted index: a name looks up at most QUERY_TOKENS of its rarest tokens, while the
#: names and aliases having them add up to at most PAIR_BUDGET
QUERY_TOKENS = 24
PAIR_BUDGET = 200
#: a name scoring at least FRAME_FROM against a customer is also compared with the names
#: of its frames (first and last characters) that hold at most FRAME_BUDGET names
FRAME_FROM = 80
FRAME_BUDGET = 3_000
#: integer codes below this are made dense by a table, not a sort
DENSE_TABLE = 1 << 24
#: below this score (0-100) a pair is neither near nor a shortened / glued form
FORM_FLOOR = 50
#: a block (the queries sharing a token or a frame) of at least this many queries is scored
#: in one ``cdist``, every query against every name of the block; smaller ones pair by pair
BLOCK_FROM = 4
#: a truncated bank field still scores at least this against the customer's name
TRUNCATED_FROM = 70


# ------------------------------------------------------------------------- normalisation
def _empty_null(expr: pl.Expr) -> pl.Expr:
    """An empty text as null (``expr`` evaluated once, unlike a when/then on it)."""
    return expr.replace("", None)


def _spaced_nf(s: pl.Expr) -> pl.Expr:
    """:func:`_spaced_expr` of a text already in NFKC."""
    s = s.str.to_lowercase().str.replace_all(_PUNCT, " ").str.strip_chars()
    s = (" " + s).str.replace(_EN_SUFFIX, "").str.strip_chars()
    return s.str.replace(_ZH_SUFFIX, "").str.replace_all(r"\s+", " ").str.strip_chars()


def _spaced_expr(expr: pl.Expr) -> pl.Expr:
    """Lower case, NFKC, punctuation to single spaces, trailing company suffixes removed."""
    return _spaced_nf(expr.str.normalize("NFKC"))


def normalize_name_expr(expr: pl.Expr) -> pl.Expr:
    """Polars expression form of :func:`normalize_name` (vectorised)."""
    return _empty_null(_spaced_expr(expr).str.replace_all(" ", ""))


def normalize_name(name: str | None) -> str | None:
    """Normalise one company name, e.g. ``'ＡＣＭＥ Trading Co.,Ltd.'`` -> ``'acmetrading'``."""
    if name is None:
        return None
    return pl.select(normalize_name_expr(pl.lit(name, dtype=pl.String))).item()


def _loose_nf(s: pl.Expr) -> pl.Expr:
    """:func:`_loose_text` of a text already in NFKC."""
    s = s.str.replace(r"^(.+?)\(\s*(\p{Han}{2,4})\s*\)(.*)$", "${2}${1}${3}")
    return s.str.replace(r"^(\p{Han}{2,3}?)市", "${1}")


def _loose_text(expr: pl.Expr) -> pl.Expr:
    return _loose_nf(expr.str.normalize("NFKC"))


def loose_key_expr(expr: pl.Expr) -> pl.Expr:
    """The loose key: a parenthesised Chinese place moved to the front
    (``佳禾家电（厦门）有限公司`` -> ``厦门佳禾家电有限公司``), the ``市`` after a leading 2-3
    character city dropped, then :func:`normalize_name_expr`."""
    return normalize_name_expr(_loose_text(expr))


def _plain_expr(expr: pl.Expr) -> pl.Expr:
    """Free text (a memo) for a name search: NFKC, lower case, punctuation and spaces
    removed, suffixes kept."""
    return _plain_nf(expr.str.normalize("NFKC"))


def _plain_nf(s: pl.Expr) -> pl.Expr:
    return _empty_null(s.str.to_lowercase().str.replace_all(_PUNCT, ""))


def _name_forms(names: pl.Series) -> pl.DataFrame:
    """The forms of each of ``names`` (a frame in their order): ``norm``
    (:func:`normalize_name_expr`), ``loose`` (:func:`loose_key_expr`), ``prefix``
    (normalised like the loose key but with the company suffix kept: a truncated bank
    field keeps part of it, ``厦门市佳禾家电贸易有``) and ``spaced`` (:func:`_spaced_expr`).
    Each step is evaluated once (eager polars shares no sub-expression), the loose key's
    normalisation only for the names the loose rules change (else it is ``norm``)."""
    d = pl.DataFrame({"_nf": names.cast(pl.String)}).with_columns(
        pl.col("_nf").str.normalize("NFKC")
    )
    d = d.with_columns(
        _spaced_nf(pl.col("_nf")).alias("spaced"), _loose_nf(pl.col("_nf")).alias("_lt")
    )
    d = d.with_columns(
        _empty_null(pl.col("spaced").str.replace_all(" ", "")).alias("norm"),
        _plain_nf(pl.col("_lt")).alias("prefix"),
    )
    changed = d.select(pl.col("_lt").ne_missing(pl.col("_nf"))).to_series().arg_true()
    loose = d.get_column("norm").rename("loose").clone()
    if changed.len():
        moved = d.select(pl.col("_lt").gather(changed)).select(normalize_name_expr(pl.col("_lt")))
        loose = loose.scatter(changed, moved.to_series())
    return d.select("norm", "prefix", "spaced").insert_column(1, loose)


def normalize_account_expr(expr: pl.Expr) -> pl.Expr:
    s = expr.str.normalize("NFKC").str.replace_all(r"[\s\-]+", "").str.to_uppercase()
    return _empty_null(s)


# ----------------------------------------------------------------------------- master data
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
    """Names and aliases of every customer, one row each (``c`` numbers them, sorted;
    ``cc`` numbers the customers): norm, loose, prefix and spaced forms, customer_id,
    source (name / alias)."""
    names = customers.select(
        "customer_id", pl.col("name").cast(pl.String).alias("raw")
    ).with_columns(pl.lit("name").alias("source"))
    aliases = (
        _split_col(customers, "aliases")
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
            [_name_forms(raw.get_column("raw")), raw.select("customer_id", "source")],
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


def _key_customers(df: pl.DataFrame, key: str, out: str) -> pl.DataFrame:
    """key -> the sorted list of customers it belongs to."""
    return df.drop_nulls(key).group_by(key).agg(pl.col("customer_id").unique().sort().alias(out))


def _only(col: str) -> pl.Expr:
    """The customer of a key that belongs to exactly one."""
    return pl.when(pl.col(col).list.len() == 1).then(pl.col(col).list.first())


def _several(col: str) -> pl.Expr:
    """The customers of a key that belongs to several."""
    return pl.when(pl.col(col).list.len() > 1).then(pl.col(col))


# --------------------------------------------------------------------------- the index
def _tokens(df: pl.DataFrame, key: str, text: str, spaced: str) -> pl.DataFrame:
    """(key, tok): the vocabulary of the inverted index. From ``text`` (a normalised name
    without spaces): character bigrams and trigrams, adjacent pairs in either order (two
    characters swapped), pairs one apart (one character replaced), digit runs; and the
    words of ``spaced``."""
    t = df.select(
        key,
        pl.col(text).str.slice(0, FUZZY_MAX_CHARS).alias("_t"),
        pl.col(spaced).str.slice(0, FUZZY_MAX_CHARS).alias("_s"),
    ).drop_nulls("_t")
    keys, bits, vocab = _token_keys(t.get_column("_t"), t.get_column("_s"))
    row = keys & ((1 << bits) - 1)
    return pl.DataFrame({key: t.get_column(key).gather(row), "tok": vocab[keys >> bits]})


def _token_keys(text: pl.Series, spaced: pl.Series) -> tuple[np.ndarray, int, np.ndarray]:
    """The tokens of :func:`_tokens` of the texts ``text`` (non-null; ``spaced``: their
    spaced forms) as ``(keys, bits, vocab)``: each (row, token) once as ``tok << bits |
    row``, sorted, a token by its place in ``vocab`` (the distinct token hashes, sorted;
    shifts, not divisions, split a key). The grams
    are numbered in numpy from the characters, and only the distinct ones are made into
    strings and hashed (names share most of their grams). Tokens are 64-bit hashes, one
    seed per kind: a collision only adds a pair to score."""
    n = text.str.len_chars().cast(pl.Int64).to_numpy()
    points = np.frombuffer(text.str.join("").item().encode("utf-32-le"), dtype=np.uint32)
    seen = np.zeros(0x110000, dtype=bool)
    seen[points] = True
    alphabet = np.flatnonzero(seen)
    ci = (np.cumsum(seen, dtype=np.int64) - 1)[points]
    size = max(alphabet.size, 1)
    chars = pl.Series([chr(x) for x in alphabet.tolist()], dtype=pl.String)
    # every position but the last of every text, with the next two characters (a text's
    # last pair has none: its trigram and its pair one apart are null)
    m = np.maximum(n - 1, 0)
    pairs = np.cumsum(m)
    row = np.repeat(np.arange(n.size, dtype=np.int64), m)
    at = np.arange(row.size, dtype=np.int64) + np.repeat(np.cumsum(n) - n - pairs + m, m)
    ends = np.flatnonzero(m > 0)
    three = np.ones(row.size, dtype=bool)
    three[pairs[ends] - 1] = False
    a, b = ci[at], ci[at + 1]
    c = ci[at[three] + 2]
    # the grams as numbers (a trigram: its bigram's number, then the third character)
    two, two_at = _dense(a * size + b, size * size)
    three_at = two_at[three] * size + c
    kinds = (  # (seed, rows, the distinct numbers, each row's among them, a null at the end)
        (0, row, two, two_at, False),
        (1, row[three], *_dense(three_at, two.size * size), True),
        (2, row, *_dense(np.minimum(a, b) * size + np.maximum(a, b), size * size), False),
        (3, row[three], *_dense(a[three] * size + c, size * size), True),
    )
    rows, places, hashes = [], [], []
    offset = 0
    for seed, r, distinct, inv, null in kinds:
        if seed == 1:  # the bigram, then the third character
            ends_with = [chars.gather(distinct % size)]
            distinct = two[distinct // size]
        else:
            ends_with = []
        grams = pl.select(
            pl.concat_str(
                [chars.gather(distinct // size), chars.gather(distinct % size), *ends_with]
            ).alias("g")
        ).to_series()
        if null:
            grams = pl.concat([grams, pl.Series("g", [None], dtype=pl.String)])
            rows.append(ends)
            places.append(np.full(ends.size, offset + grams.len() - 1, dtype=np.int64))
        rows.append(r)
        places.append(offset + inv)
        hashes.append(grams.hash(seed=seed).to_numpy())
        offset += grams.len()
    # digit runs and words, hashed row by row (few)
    frame = pl.DataFrame({"_t": text, "_s": spaced}).with_row_index("_r")
    for seed, words in (
        (4, frame.select("_r", pl.col("_t").str.extract_all(r"\d+").alias("w"))),
        (5, frame.select("_r", pl.col("_s").fill_null("").str.split(" ").alias("w"))),
    ):
        w = words.explode("w").drop_nulls("w")
        if seed == 5:
            w = w.filter(pl.col("w").str.len_chars() >= 3)
        rows.append(w.get_column("_r").cast(pl.Int64).to_numpy())
        places.append(offset + np.arange(w.height, dtype=np.int64))
        hashes.append(w.get_column("w").hash(seed=seed).to_numpy())
        offset += w.height
    vocab, tok = _dense(np.concatenate(hashes))
    bits = max(text.len(), 1).bit_length()
    keys = np.sort((tok[np.concatenate(places)] << bits) | np.concatenate(rows))
    return keys[_firsts(keys)], bits, vocab


def _firsts(s: np.ndarray) -> np.ndarray:
    """Where each value of the sorted ``s`` first comes."""
    first = np.ones(s.size, dtype=bool)
    np.not_equal(s[1:], s[:-1], out=first[1:])
    return first


def _among(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.isin(x, values)`` by a sort of ``values`` (numpy's own is slow on millions)."""
    values = np.sort(values)
    if not values.size:
        return np.zeros(x.size, dtype=bool)
    return values[np.minimum(np.searchsorted(values, x), values.size - 1)] == x


def _dense(x: np.ndarray, space: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)``: by a table when the values lie in
    ``range(space)`` and that is small, else by a sort (numpy's own is far slower on
    millions of distinct values)."""
    if space is not None and space <= DENSE_TABLE:
        seen = np.zeros(space, dtype=bool)
        seen[x] = True
        distinct = np.flatnonzero(seen)
        place = np.empty(space, dtype=np.int64)  # (written where seen only)
        place[distinct] = np.arange(distinct.size)
        return distinct, place[x]
    order = np.argsort(x)
    s = x[order]
    first = _firsts(s)
    inv = np.empty(x.size, dtype=np.int64)
    inv[order] = np.cumsum(first) - 1
    return s[first], inv


class _Index:
    """The choices (customer names and aliases) as an inverted index of their tokens
    (``t``, hashed), with each token's document frequency (the names and aliases that have
    it: the pairs a query selecting it makes). Only the tokens of at most PAIR_BUDGET
    names: no query can select another."""

    def __init__(self, ch: pl.DataFrame):
        self.n = max(1, ch.height)
        t = ch.select(
            "c",
            pl.col("norm").str.slice(0, FUZZY_MAX_CHARS),
            pl.col("spaced").str.slice(0, FUZZY_MAX_CHARS),
        ).drop_nulls("norm")
        keys, bits, vocab = _token_keys(t.get_column("norm"), t.get_column("spaced"))
        tok = keys >> bits
        df = np.bincount(tok, minlength=vocab.size)
        rare = df <= PAIR_BUDGET
        keys = keys[rare[tok]]
        # sorted by token and choice
        self.post = pl.DataFrame(
            {
                "t": vocab[keys >> bits],
                "c": t.get_column("c").gather(keys & ((1 << bits) - 1)),
            }
        )
        self.freq = pl.DataFrame({"t": vocab[rare], "df": pl.Series(df[rare], dtype=pl.UInt32)})

    def pairs(self, q_tok: pl.DataFrame) -> pl.DataFrame:
        """(q, c), unique: each query with the choices sharing one of its selected tokens."""
        return self.unpack(
            self.selected(q_tok)
            .join(self.post, on="t")
            .select(self.key())
            .unique()
            .get_column("_k")
        )

    def selected(self, q_tok: pl.DataFrame) -> pl.DataFrame:
        """(q, t): each query's rarest tokens (at most QUERY_TOKENS, while their frequencies
        add up to at most PAIR_BUDGET). Never all pairs: a query made only of tokens many
        customers share selects none."""
        return (
            q_tok.rename({"tok": "t"})
            .join(self.freq, on="t")
            .select("q", "t", "df")
            .sort(["q", "df", "t"])
            .with_columns(
                pl.int_range(pl.len()).over("q").alias("_r"),
                pl.col("df").cum_sum().over("q").alias("_cum"),
            )
            .filter((pl.col("_r") < QUERY_TOKENS) & (pl.col("_cum") <= PAIR_BUDGET))
            .select("q", "t")
        )

    def key(self) -> pl.Expr:
        return (pl.col("q") * self.n + pl.col("c")).alias("_k")

    def unpack(self, keys: pl.Series) -> pl.DataFrame:
        return pl.DataFrame({"_k": keys}).select(
            (pl.col("_k") // self.n).alias("q"), (pl.col("_k") % self.n).alias("c")
        )


def _frame_keys(text: str) -> list[pl.Expr]:
    """A name's frames: its first two and last two characters (city and trade, usually),
    its first four and last two, its first two and last four. A competitor one slip away
    from a name (a character replaced, doubled, dropped or two swapped, in the middle of
    it) shares at least one of them; the narrower ones still hold when the wide one is
    crowded."""
    t = pl.col(text)
    return [
        pl.concat_str(t.str.slice(0, a), pl.lit("|"), t.str.slice(-b, b))
        for a, b in ((2, 2), (4, 2), (2, 4))
    ]


def _frames(q: pl.DataFrame, ch: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(g, q), and g, c sorted by g and c: the frames (numbered g in the order of their
    keys) of the queries and of the choices, frames of more than FRAME_BUDGET choices left
    out: who else a slip in the middle of a name comes near."""
    qs, cs = [], []
    for n, (qk, ck) in enumerate(zip(_frame_keys("qn"), _frame_keys("norm"), strict=True)):
        cf = ch.select("c", pl.concat_str(pl.lit(f"{n}"), ck).alias("_f"))
        cs.append(cf.filter(pl.len().over("_f") <= FRAME_BUDGET))
        qs.append(q.select("q", pl.concat_str(pl.lit(f"{n}"), qk).alias("_f")))
    qf, cf = pl.concat(qs), pl.concat(cs)
    # only the queries' frames make blocks
    number = qf.select("_f").unique().sort("_f").with_columns(pl.int_range(pl.len()).alias("g"))
    gc = cf.join(number, on="_f").select(pl.col("g") * max(ch.height, 1) + pl.col("c"))
    gc = np.sort(gc.to_series().to_numpy())
    return (
        qf.join(number, on="_f").select("g", "q"),
        gc // max(ch.height, 1),
        gc % max(ch.height, 1),
    )


# --------------------------------------------------------------------------- fuzzy names
def _fuzzy(
    todo: pl.DataFrame,
    ch: pl.DataFrame,
    *,
    auto_threshold: float,
    suggest_threshold: float,
    margin: float,
) -> pl.DataFrame:
    """Per distinct unresolved name (``_norm``): ``_fz_c`` (the resolved customer, or null),
    ``_fz_s`` (the best score), ``_fz_cands`` (candidate customers, or null), ``_fz_cid`` /
    ``_fz_cs`` (the best customer and score when not resolved); ``ch``: the choices,
    indexed only when some name is left."""
    from rapidfuzz import fuzz, process
    from rapidfuzz.distance import OSA

    schema = {
        "_norm": pl.String,
        "_fz_c": pl.String,
        "_fz_s": pl.Float64,
        "_fz_cands": pl.List(pl.String),
        "_fz_cid": pl.String,
        "_fz_cs": pl.Float64,
    }
    if todo.height == 0 or ch.height == 0:
        return pl.DataFrame(schema=schema)
    index = _Index(ch)
    lo, hi, mg = suggest_threshold * 100, auto_threshold * 100, margin * 100
    q = todo.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("q"),
        "_norm",
        pl.col("_norm").str.slice(0, FUZZY_MAX_CHARS).alias("qn"),
        pl.col("_loose").fill_null("").str.slice(0, FUZZY_MAX_CHARS).alias("ql"),
        pl.col("_spaced").fill_null("").str.slice(0, FUZZY_MAX_CHARS).alias("qs"),
        pl.col("_pfx").fill_null("").str.slice(0, FUZZY_MAX_CHARS).alias("qp"),
    )
    c = ch.select(
        pl.col("norm").alias("cn"),
        pl.col("loose").fill_null("").alias("cl"),
        pl.col("spaced").fill_null("").alias("cs"),
        pl.col("prefix").fill_null("").alias("cp"),
    )

    def arr(df: pl.DataFrame, col: str) -> np.ndarray:
        return df.get_column(col).to_numpy().astype(object, copy=False)

    qa = {k: arr(q, k) for k in ("qn", "ql", "qs", "qp")}
    ca = {k: arr(c, k) for k in ("cn", "cl", "cs", "cp")}
    qlen = q.get_column("qn").str.len_chars().to_numpy()
    clen = c.get_column("cn").str.len_chars().to_numpy()
    qplen = q.get_column("qp").str.len_chars().to_numpy()
    cplen = c.get_column("cp").str.len_chars().to_numpy()
    # the first six characters of the prefix keys, numbered alike on both sides (a cut
    # bank field keeps at least six)
    heads = pl.concat([q.get_column("qp"), c.get_column("cp")]).str.slice(0, 6)
    heads = heads.cast(pl.Categorical).to_physical().to_numpy()
    q_head, c_head = heads[: q.height], heads[q.height :]
    q_han = q.get_column("qn").str.contains(_HAN).to_numpy()
    c_han = c.get_column("cn").str.contains(_HAN).to_numpy()
    # which names have another loose key, which have several words (Chinese names have one)
    q_loose = (q.get_column("ql") != q.get_column("qn")).to_numpy()
    c_loose = (c.get_column("cl") != c.get_column("cn")).to_numpy()
    q_words = q.get_column("qs").str.contains(" ").to_numpy()
    c_words = c.get_column("cs").str.contains(" ").to_numpy()
    # where the word order can change a score: words, or another separator rapidfuzz
    # splits words at (spaces are all " " by now)
    q_split = q_words | q.get_column("qs").str.contains(_SPLIT).to_numpy()
    c_split = c_words | c.get_column("cs").str.contains(_SPLIT).to_numpy()
    cust = ch.get_column("cc").to_numpy()

    def run(a: str, b: str, scorer, qs: np.ndarray, cs: np.ndarray, *, pairwise: bool):
        if pairwise:
            return process.cpdist(
                qa[a][qs],
                ca[b][cs],
                scorer=scorer,
                score_cutoff=FORM_FLOOR,
                dtype=np.float32,
                workers=-1,
            )
        return process.cdist(
            qa[a][qs], ca[b][cs], scorer=scorer, score_cutoff=FORM_FLOOR, dtype=np.float32
        )

    def scored(qs: np.ndarray, cs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The plain ratio and the best of the three scorers (0-100) of every query of
        ``qs`` against every choice of ``cs`` (a block); the loose keys and the word order
        only where they differ from the plain name."""
        r = run("qn", "cn", fuzz.ratio, qs, cs, pairwise=False)
        s = r
        for a, b, scorer, qm, cm in (
            ("ql", "cl", fuzz.ratio, q_loose, c_loose),
            ("qs", "cs", fuzz.token_sort_ratio, q_words, c_words),
        ):
            if qm[qs].any() or cm[cs].any():
                s = np.maximum(s, run(a, b, scorer, qs, cs, pairwise=False))
        return r, s

    found: list[tuple[np.ndarray, ...]] = []

    def score_blocks(qg: pl.DataFrame, g_c: np.ndarray, c_of: np.ndarray, floor: float) -> None:
        """Score every query of a block against every choice of it (``qg``: g, q; ``g_c``,
        ``c_of``: the blocks of the choices, sorted by g and c): a block of several queries
        in one ``cdist``, the rest pair by pair (each pair once, none already found: the
        first score found of a pair is the one kept); keep the pairs scoring at least
        ``floor``."""
        qg = qg.unique().sort("g", "q")
        g_q, q_of = qg.get_column("g").to_numpy(), qg.get_column("q").to_numpy()
        keys_q, start_q, n_q = np.unique(g_q, return_index=True, return_counts=True)
        start_c = np.searchsorted(g_c, keys_q, side="left")
        n_c = np.searchsorted(g_c, keys_q, side="right") - start_c
        block = (n_c > 0) & (n_q >= BLOCK_FROM)
        for a, n, b, m in zip(
            *(x[block].tolist() for x in (start_q, n_q, start_c, n_c)), strict=True
        ):
            qs, cs = q_of[a : a + n], c_of[b : b + m]
            r, s = scored(qs, cs)
            i, j = np.nonzero(s >= floor)
            found.append((qs[i], cs[j], r[i, j], s[i, j]))
        small = (n_c > 0) & (n_q < BLOCK_FROM)
        if not small.any():
            return
        # the small blocks' pairs: each of their queries with each of their choices
        block_of = np.repeat(np.arange(keys_q.size), n_q)[np.repeat(small, n_q)]
        rows = np.flatnonzero(np.repeat(small, n_q))
        m = n_c[block_of]
        at = np.repeat(start_c[block_of] - np.cumsum(m) + m, m) + np.arange(m.sum())
        qs_all, cs_all = np.repeat(q_of[rows], m), c_of[at]
        # the scorers the whole batch of pairs would use
        extra = tuple(
            qm[qs_all].any() or cm[cs_all].any()
            for qm, cm in ((q_loose, c_loose), (q_words, c_words))
        )
        keys = np.sort(qs_all * index.n + cs_all)
        keys = keys[_firsts(keys)]
        if found:
            keys = keys[~_among(keys, np.concatenate([x[0] * index.n + x[1] for x in found]))]
        if not keys.size:
            return
        qs, cs = keys // index.n, keys % index.n
        r = run("qn", "cn", fuzz.ratio, qs, cs, pairwise=True)
        s = r.copy()
        # another scorer only for the pairs it can score otherwise (else it is the ratio)
        for (a, b, scorer, qm, cm), use in zip(
            (
                ("ql", "cl", fuzz.ratio, q_loose, c_loose),
                ("qs", "cs", fuzz.token_sort_ratio, q_split, c_split),
            ),
            extra,
            strict=True,
        ):
            where = np.flatnonzero(qm[qs] | cm[cs]) if use else np.zeros(0, dtype=np.int64)
            if where.size:
                other = run(a, b, scorer, qs[where], cs[where], pairwise=True)
                s[where] = np.maximum(s[where], other)
        keep = s >= floor
        found.append((qs[keep], cs[keep], r[keep], s[keep]))

    def collected() -> tuple[np.ndarray, ...]:
        """(q, c, ratio, score) of every pair scored, each pair once."""
        if not found:
            return tuple(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.float32, np.float32))
        qi, ci, r, s = (np.concatenate(x) for x in zip(*found, strict=True))
        _, first = np.unique(qi * index.n + ci, return_index=True)
        return qi[first], ci[first], r[first], s[first]

    score_blocks(
        index.selected(_tokens(q, "q", "qn", "qs")).select(pl.col("t").alias("g"), "q"),
        index.post.get_column("t").to_numpy(),
        index.post.get_column("c").to_numpy(),
        FORM_FLOOR,
    )
    qi, ci, r, s = collected()
    # a name near a customer: who else a slip in the middle of the name comes near (its
    # frames), so that no other customer within the margin goes unseen
    near = np.unique(qi[s >= FRAME_FROM])
    if near.size:
        # (only what can rival the best: within the margin of the auto threshold)
        score_blocks(*_frames(q.filter(pl.col("q").is_in(near)), ch), hi - mg - 0.5)
        qi, ci, r, s = collected()
    # the forms, checked only where the lengths and the plain ratio allow them (a name
    # inside another has the ratio of their lengths exactly): shortened (the payer name a
    # run of whole words / >= 4 Chinese characters of the customer's, >= 60 % of it),
    # truncated (a prefix of the customer's name before suffix stripping, >= 6 characters
    # and 60 %), glued (the customer's whole name inside the payer text, >= 4 Chinese / 6
    # other characters)
    ql_, cl_ = qlen[qi], clen[ci]
    inside = 200.0 * np.minimum(ql_, cl_) / np.maximum(ql_ + cl_, 1)
    exact_in = np.abs(r - inside) < 0.01
    short = exact_in & (ql_ < cl_) & (ql_ * 10 >= cl_ * 6) & (ql_ >= np.where(q_han[qi], 4, 6))
    trunc = (
        (s >= TRUNCATED_FROM)
        & (q_head[qi] == c_head[ci])
        & (qplen[qi] >= 6)
        & (qplen[qi] <= cplen[ci])
        & (qplen[qi] * 10 >= cplen[ci] * 6)
    )
    glued = exact_in & (cl_ < ql_) & (cl_ >= np.where(c_han[ci], 4, 6))
    # one keying slip (a character replaced, doubled, dropped or two swapped) from the
    # customer's name, >= 4 Chinese / 6 other characters: a typo, not another name
    slip = (np.abs(ql_ - cl_) <= 1) & (np.minimum(ql_, cl_) >= np.where(q_han[qi], 4, 6))
    slip &= s >= FORM_FLOOR
    where = np.flatnonzero(slip)
    if where.size:
        slip[where] = (
            process.cpdist(
                qa["qn"][qi[where]],
                ca["cn"][ci[where]],
                scorer=OSA.distance,
                score_cutoff=1,
                dtype=np.int32,
                workers=-1,
            )
            == 1
        )
    for mask, test in (
        (
            short,
            lambda i, j: (
                qa["qn"][i] in ca["cn"][j] if q_han[i] else f" {qa['qs'][i]} " in f" {ca['cs'][j]} "
            ),
        ),
        (trunc, lambda i, j: ca["cp"][j].startswith(qa["qp"][i])),
        (glued, lambda i, j: ca["cn"][j] in qa["qn"][i]),
    ):
        where = np.flatnonzero(mask)
        mask[where] = [test(i, j) for i, j in zip(qi[where], ci[where], strict=True)]
    # what can still decide: a score near the thresholds, or a form
    keep = (s >= min(lo, hi - mg) - 0.5) | short | trunc | glued | slip
    if not keep.any():
        return pl.DataFrame(schema=schema)
    qi, ci, s, short, trunc, glued, slip, cl_ = (
        x[keep] for x in (qi, ci, s.astype(np.float64), short, trunc, glued, slip, cl_)
    )
    pairs = pl.DataFrame(
        {
            "q": qi,
            "cc": cust[ci],
            "s": s,
            "short": short,
            "trunc": trunc,
            "glued": glued,
            "slip": slip,
            "clen": cl_,
        }
    )
    # only the longest customer name inside the payer text counts as glued
    longest = pl.col("clen").filter("glued").max().over("q")
    pairs = pairs.with_columns((pl.col("glued") & (pl.col("clen") == longest)).alias("glued"))
    per = pairs.group_by("q", "cc").agg(
        pl.col("s").max(),
        pl.col("short").any(),
        pl.col("trunc").any(),
        pl.col("glued").any(),
        pl.col("slip").any(),
    )
    # a truncation of exactly one customer nobody else comes near counts as 0.9
    n_trunc = pl.col("trunc").sum().over("q")
    other_best = pl.col("s").filter(~pl.col("trunc")).max().over("q").fill_null(0.0)
    per = per.with_columns(
        pl.when(pl.col("trunc") & (n_trunc == 1) & (other_best < lo))
        .then(pl.max_horizontal("s", pl.lit(90.0)))
        .otherwise(pl.col("s"))
        .alias("s"),
        (
            pl.col("short") | (pl.col("trunc") & (n_trunc > 1)) | pl.col("glued") | pl.col("slip")
        ).alias("form"),
        # what keeps another customer from being resolved, however far its score: a name
        # the payer's is a shortened or truncated form of too (a name glued into the payer
        # text is a rival only by its score: the margin)
        (pl.col("short") | (pl.col("trunc") & (n_trunc > 1))).alias("rival"),
    )
    per = per.sort(["q", "s", "cc"], descending=[False, True, False]).with_columns(
        pl.int_range(pl.len()).over("q").alias("_rank")
    )
    per = per.with_columns(
        pl.col("s").first().over("q").alias("_sb"),
        pl.when(pl.col("_rank") == 1).then(pl.col("s")).max().over("q").fill_null(0.0).alias("_s2"),
        (pl.col("rival") & (pl.col("_rank") > 0)).any().over("q").alias("_fo"),
    )
    auto = (pl.col("_sb") >= hi) & (pl.col("_sb") - pl.col("_s2") >= mg) & ~pl.col("_fo")
    cand = (
        (pl.col("s") >= hi)
        | ((pl.col("_sb") >= hi) & (pl.col("s") >= pl.col("_sb") - mg) & (pl.col("s") >= lo))
        | pl.col("form")
    )
    ids = ch.select("cc", "customer_id").unique("cc")
    out = (
        per.with_columns(auto.alias("_auto"), cand.alias("_cand"))
        .join(ids, on="cc", maintain_order="left")
        .group_by("q")
        .agg(
            pl.col("customer_id").first().alias("_b"),
            pl.col("_sb").first(),
            pl.col("_auto").first(),
            pl.col("customer_id").filter(pl.col("_cand")).sort().alias("_cands"),
        )
        .join(q.select("q", "_norm"), on="q")
    )
    resolved = pl.col("_auto")
    has_cands = ~resolved & (pl.col("_cands").list.len() > 0)
    return out.select(
        "_norm",
        pl.when(resolved).then(pl.col("_b")).alias("_fz_c"),
        (pl.col("_sb") / 100.0).alias("_fz_s"),
        pl.when(has_cands).then(pl.col("_cands")).alias("_fz_cands"),
        pl.when(~resolved & (pl.col("_sb") >= lo)).then(pl.col("_b")).alias("_fz_cid"),
        pl.when(~resolved & (pl.col("_sb") >= lo)).then(pl.col("_sb") / 100.0).alias("_fz_cs"),
    ).cast(schema)


# ------------------------------------------------------------------------------ resolve
def resolve_payers(
    receipts: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    auto_threshold: float = 0.85,
    suggest_threshold: float = 0.75,
    margin: float = 0.05,
    max_candidates: int = 8,
) -> pl.DataFrame:
    """Resolve every distinct ``(payer_name, payer_account)`` of ``receipts`` to a customer
    or to candidate customers (see the module docstring).

    Returns :data:`PAYERS_SCHEMA` columns, one row per distinct pair, sorted by
    ``payer_name, payer_account``; ``customer_id`` is null unless one customer is
    resolved, ``candidates`` null unless the method is a candidate method.
    Join it back on ``payer_name, payer_account`` (``nulls_equal=True``).
    """
    name_col = (
        pl.col("payer_name").cast(pl.String)
        if "payer_name" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    acct_col = (
        pl.col("payer_account").cast(pl.String)
        if "payer_account" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    pairs = (
        receipts.select(name_col.alias("payer_name"), acct_col.alias("payer_account"))
        .unique()
        .sort(["payer_name", "payer_account"], nulls_last=True)
        .with_columns(normalize_account_expr(pl.col("payer_account")).alias("_acct"))
    )
    customers = customers.with_columns(pl.col("customer_id").cast(pl.String))
    choices = _choices(customers)

    def keyed(forms: pl.DataFrame, key: str, target: str, out: tuple[str, str, str]):
        """``forms`` with, for its ``target``, the sorted lists of the customers whose
        name, alias, either has it as ``key`` (null for none); each customer once, sorted
        before the grouping (a group's list keeps the order of its rows: far cheaper than
        sorting every list)."""
        d = (
            choices.select(pl.col(key).alias(target), "source", "customer_id")
            .join(forms.select(target), on=target, how="semi")
            .unique()
            .sort("customer_id")
        )
        lists = [
            d.filter(pl.col("source") == source).group_by(target).agg(pl.col("customer_id"))
            for source in ("name", "alias")
        ]
        either = d.select(target, "customer_id").unique(maintain_order=True)
        lists.append(either.group_by(target).agg(pl.col("customer_id")))
        for name, found in zip(out, lists, strict=True):
            forms = forms.join(found.rename({"customer_id": name}), on=target, how="left")
        return forms

    # the forms of each distinct name once, and the customers whose names they are
    names = pairs.get_column("payer_name").unique().drop_nulls()
    forms = pl.concat([names.to_frame(), _name_forms(names)], how="horizontal").rename(
        {"norm": "_norm", "loose": "_loose", "spaced": "_spaced", "prefix": "_pfx"}
    )
    forms = keyed(forms, "norm", "_norm", ("_k_name", "_k_alias", "_k_any"))
    forms = keyed(forms, "loose", "_loose", ("_k_lname", "_k_lalias", "_k_lany"))
    pairs = pairs.join(forms, on="payer_name", how="left", maintain_order="left")

    # 1. account; 2./3. name and alias, then the same on the loose key; 4. shared keys
    accts = _split_col(customers, "payer_accounts").select(
        "customer_id", normalize_account_expr(pl.col("payer_accounts")).alias("_acct")
    )
    pairs = (
        pairs.join(_key_customers(accts, "_acct", "_k_acct"), on="_acct", how="left")
        .with_columns(
            _only("_k_acct").alias("_c_acct"),
            pl.coalesce(_only("_k_name"), _only("_k_lname")).alias("_c_name"),
            pl.coalesce(_only("_k_alias"), _only("_k_lalias")).alias("_c_alias"),
        )
        .with_columns(
            pl.coalesce("_c_acct", "_c_name", "_c_alias").alias("customer_id"),
        )
        .with_columns(
            pl.when(pl.col("customer_id").is_null())
            .then(pl.coalesce(_several("_k_acct"), _several("_k_any"), _several("_k_lany")))
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

    # 5. fuzzy, on the distinct normalised names still unresolved
    todo = (
        pairs.filter((pl.col("method") == "none") & pl.col("_norm").is_not_null())
        .select("_norm", "_loose", "_spaced", "_pfx")
        .unique("_norm", keep="first")
        .sort("_norm")
    )
    fz = _fuzzy(
        todo,
        choices,
        auto_threshold=auto_threshold,
        suggest_threshold=suggest_threshold,
        margin=margin,
    )
    pairs = pairs.join(fz, on="_norm", how="left")
    unresolved = pl.col("method") == "none"
    auto = unresolved & pl.col("_fz_c").is_not_null()
    fcand = unresolved & ~auto & pl.col("_fz_cands").is_not_null()
    pairs = pairs.with_columns(
        pl.when(auto).then(pl.col("_fz_c")).otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.when(auto)
        .then(pl.lit("fuzzy"))
        .when(fcand)
        .then(pl.lit("fuzzy_candidates"))
        .otherwise(pl.col("method"))
        .alias("method"),
        pl.when(auto | fcand).then(pl.col("_fz_s")).otherwise(pl.col("score")).alias("score"),
        pl.when(unresolved & ~auto).then(pl.col("_fz_cid")).alias("candidate_id"),
        pl.when(unresolved & ~auto).then(pl.col("_fz_cs")).alias("candidate_score"),
        pl.when(fcand)
        .then(pl.col("_fz_cands"))
        .otherwise(pl.col("candidates"))
        .alias("candidates"),
    )
    # too many candidates identify nobody
    crowd = pl.col("candidates").list.len() > max_candidates
    pairs = pairs.with_columns(
        pl.when(crowd).then(pl.lit("none")).otherwise(pl.col("method")).alias("method"),
        pl.when(crowd).then(0.0).otherwise(pl.col("score")).alias("score"),
        pl.when(crowd).then(None).otherwise(pl.col("candidates")).alias("candidates"),
    )
    return pairs.select(list(PAYERS_SCHEMA)).cast(PAYERS_SCHEMA)


# --------------------------------------------------------------------------- memo names
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

    def grams(first: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The 4-grams of the strings ``first`` (indexes into ``every``) at ``at``."""
        o = starts[first] + at
        return ((ci[o] * size + ci[o + 1]) * size + ci[o + 2]) * size + ci[o + 3]

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
    receipts: pl.DataFrame, customers: pl.DataFrame, *, max_candidates: int = 8
) -> pl.DataFrame:
    """Customers named in the memo of receipts that carry no payer name (many bank lines
    carry none): :data:`MEMO_PAYERS_SCHEMA`, one row per distinct memo naming someone.

    A customer is named when a run of at least 4 Chinese (6 other) characters of its
    normalised name or alias (exact or loose key), covering at least 60 % of it, is in the
    memo (NFKC, lower case, punctuation and spaces removed): ``PAYMENT FROM CORAL BAY FOODS
    K.K.``, ``北京嘉禾食品有限公司支付货款``, ``BRIGHTWAY ELECTRONICS PAYMENT`` (the
    customer's name without its city). The customers with the longest such run are the
    candidates (a short name several customers share names them all); more than
    ``max_candidates`` name nobody. ``score`` is the share of the best name found."""
    if "memo" not in receipts.columns or receipts.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    name_col = (
        pl.col("payer_name").cast(pl.String)
        if "payer_name" in receipts.columns
        else pl.lit(None, dtype=pl.String)
    )
    rows = receipts.select(name_col.alias("_name"), pl.col("memo").cast(pl.String))
    # the names that normalise to nothing, each distinct name once
    names = rows.get_column("_name").unique().drop_nulls().to_frame()
    blank = names.filter(normalize_name_expr(pl.col("_name")).is_null()).get_column("_name")
    memos = (
        rows.filter(pl.col("_name").is_null() | pl.col("_name").is_in(blank.implode()))
        .select("memo")
        .drop_nulls()
        .unique()
        .sort("memo")
        .with_columns(pl.col("memo").str.normalize("NFKC").alias("_nf"))
        .with_columns(
            _plain_nf(pl.col("_nf")).str.slice(0, FUZZY_MAX_CHARS).alias("_plain"),
            _plain_expr(_loose_nf(pl.col("_nf"))).str.slice(0, FUZZY_MAX_CHARS).alias("_lp"),
            _spaced_nf(pl.col("_nf")).str.slice(0, FUZZY_MAX_CHARS).alias("_spaced"),
        )
        .drop_nulls("_plain")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("q"))
    )
    if memos.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    ch = _choices(customers.with_columns(pl.col("customer_id").cast(pl.String)))
    if ch.height == 0:
        return pl.DataFrame(schema=MEMO_PAYERS_SCHEMA)
    pairs = _Index(ch).pairs(_tokens(memos, "q", "_plain", "_spaced"))
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
