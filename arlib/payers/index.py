"""The inverted index of customer names and aliases: character grams, digit runs and words
as hashed tokens, so that a payer name is compared only with the names sharing its rarest
tokens (never all pairs)."""

from __future__ import annotations

import numpy as np
import polars as pl

#: characters of a payer name or memo the fuzzy stage reads (bank fields are far shorter)
FUZZY_MAX_CHARS = 200
#: the inverted index: a name looks up at most QUERY_TOKENS of its rarest tokens, while the
#: names and aliases having them add up to at most PAIR_BUDGET
QUERY_TOKENS = 24
PAIR_BUDGET = 200
#: integer codes below this are made dense by a table, not a sort
DENSE_TABLE = 1 << 24


def tokens(df: pl.DataFrame, key: str, text: str, spaced: str) -> pl.DataFrame:
    """(key, tok): the vocabulary of the inverted index. From ``text`` (a normalised name
    without spaces): character bigrams and trigrams, adjacent pairs in either order (two
    characters swapped), pairs one apart (one character replaced), digit runs; and the
    words of ``spaced``."""
    t = df.select(
        key,
        pl.col(text).str.slice(0, FUZZY_MAX_CHARS).alias("_t"),
        pl.col(spaced).str.slice(0, FUZZY_MAX_CHARS).alias("_s"),
    ).drop_nulls("_t")
    parts, bits, vocab = token_keys(t.get_column("_t"), t.get_column("_s"))
    keys = np.concatenate(parts)
    row = keys & ((1 << bits) - 1)
    return pl.DataFrame({key: t.get_column(key).gather(row), "tok": vocab[keys >> bits]})


def token_keys(text: pl.Series, spaced: pl.Series) -> tuple[list[np.ndarray], int, np.ndarray]:
    """The tokens of :func:`tokens` of the texts ``text`` (non-null; ``spaced``: their
    spaced forms) as ``(parts, bits, vocab)``: each (row, token) once as ``tok << bits |
    row``, in one of ``parts`` (one per kind of token, each sorted: several small sorts
    and arrays, not one big), a token by its place in ``vocab`` (the distinct token
    hashes, sorted; shifts, not divisions, split a key). The grams
    are numbered in numpy from the characters, and only the distinct ones are made into
    strings and hashed (names share most of their grams). Tokens are 64-bit hashes, one
    seed per kind: a collision only adds a pair to score."""
    n = text.str.len_chars().cast(pl.Int64).to_numpy()
    points = np.frombuffer(text.str.join("").item().encode("utf-32-le"), dtype=np.uint32)
    # (32-bit numbers where they fit: a fresh page costs more than the arithmetic)
    ix = np.int32 if points.size < 2**31 else np.int64
    seen = np.zeros(0x110000, dtype=bool)
    seen[points] = True
    alphabet = np.flatnonzero(seen)
    code = np.zeros(0x110000, dtype=np.int32)  # (its pages touched where used only)
    code[alphabet] = np.arange(alphabet.size, dtype=np.int32)
    ci = code[points]
    del points
    size = max(alphabet.size, 1)
    chars = pl.Series([chr(x) for x in alphabet.tolist()], dtype=pl.String)
    # every position but the last of every text, with the next two characters (a text's
    # last pair has none: its trigram and its pair one apart are null)
    m = np.maximum(n - 1, 0)
    pairs = np.cumsum(m)
    row = np.repeat(np.arange(n.size, dtype=ix), m)
    at = np.repeat((np.cumsum(n) - n - pairs + m).astype(ix), m)
    at += np.arange(row.size, dtype=ix)
    ends = np.flatnonzero(m > 0)
    three = np.ones(row.size, dtype=bool)
    three[pairs[ends] - 1] = False
    a, b = ci[at], ci[at + 1]
    c = ci[at[three] + 2]
    del ci, at
    # the grams as numbers (a trigram: its bigram's number, then the third character)
    two, two_at = dense(a.astype(np.int64) * size + b, size * size)
    three_at = two_at[three].astype(np.int64) * size + c
    kinds = (  # (seed, rows, the distinct numbers, each row's among them, a null at the end)
        (0, row, two, two_at, False),
        (1, row[three], *dense(three_at, two.size * size), True),
        (
            2,
            row,
            *dense(np.minimum(a, b).astype(np.int64) * size + np.maximum(a, b), size * size),
            False,
        ),
        (3, row[three], *dense(a[three].astype(np.int64) * size + c, size * size), True),
    )
    del a, b, c, three_at, two_at
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
    # digit runs (of the texts having a digit) and words, hashed row by row (few)
    frame = pl.DataFrame({"_t": text, "_s": spaced}).with_row_index("_r")
    digits = frame.filter(pl.col("_t").str.contains(r"\d"))
    for seed, words in (
        (4, digits.select("_r", pl.col("_t").str.extract_all(r"\d+").alias("w"))),
        (5, frame.select("_r", pl.col("_s").fill_null("").str.split(" ").alias("w"))),
    ):
        w = words.explode("w").drop_nulls("w")
        if seed == 5:
            w = w.filter(pl.col("w").str.len_chars() >= 3)
        rows.append(w.get_column("_r").cast(pl.Int64).to_numpy())
        places.append(offset + np.arange(w.height, dtype=np.int64))
        hashes.append(w.get_column("w").hash(seed=seed).to_numpy())
        offset += w.height
    vocab, tok = dense(np.concatenate(hashes))
    bits = max(text.len(), 1).bit_length()
    parts = []
    for r, p in zip(rows, places, strict=True):
        keys = tok[p]
        keys <<= bits
        keys |= r
        keys.sort()
        parts.append(keys[firsts(keys)])
    return one_each(parts, bits, vocab.size), bits, vocab


def one_each(parts: list[np.ndarray], bits: int, size: int) -> list[np.ndarray]:
    """``parts`` (sorted, distinct keys ``tok << bits | row``, tokens below ``size``), or,
    when a token is in several of them (two kinds' hashes collide: one token), all of them
    in one part, each key once."""
    hits = np.zeros(size, dtype=np.int64)
    for keys in parts:
        t = keys >> bits
        hits[t[firsts(t)]] += 1
    if hits.max(initial=0) <= 1:
        return parts
    keys = np.sort(np.concatenate(parts))
    return [keys[firsts(keys)]]


def firsts(s: np.ndarray) -> np.ndarray:
    """Where each value of the sorted ``s`` first comes."""
    first = np.ones(s.size, dtype=bool)
    np.not_equal(s[1:], s[:-1], out=first[1:])
    return first


def among(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.isin(x, values)`` by a sort of ``values`` (numpy's own is slow on millions)."""
    values = np.sort(values)
    if not values.size:
        return np.zeros(x.size, dtype=bool)
    return values[np.minimum(np.searchsorted(values, x), values.size - 1)] == x


def dense(x: np.ndarray, space: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)``: by a table when the values lie in
    ``range(space)`` and that is small, else by a sort (numpy's own is far slower on
    millions of distinct values)."""
    if space is not None and space <= DENSE_TABLE:
        seen = np.zeros(space, dtype=bool)
        seen[x] = True
        distinct = np.flatnonzero(seen)
        place = np.empty(space, dtype=np.int32 if space < 2**31 else np.int64)  # (where seen)
        place[distinct] = np.arange(distinct.size)
        return distinct, place[x]
    order = np.argsort(x)
    s = x[order]
    first = firsts(s)
    inv = np.empty(x.size, dtype=np.int64)
    inv[order] = np.cumsum(first) - 1
    return s[first], inv


class Index:
    """The choices (customer names and aliases) as an inverted index of their tokens
    (``t``, hashed), with each token's document frequency (the names and aliases that have
    it: the pairs a query selecting it makes). Only the tokens of at most PAIR_BUDGET
    names: no query can select another."""

    def __init__(self, ch: pl.DataFrame):
        self.n = max(1, ch.height)
        # the tokens of each text once, a run of choices alike (sorted by norm: names and
        # aliases repeat across customers and sources) one text weighing its choices
        rows = ch.select(
            pl.col("norm").str.slice(0, FUZZY_MAX_CHARS),
            pl.col("spaced").str.slice(0, FUZZY_MAX_CHARS),
        )
        new = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in rows.columns)
        start = rows.select(new.fill_null(True)).to_series().arg_true()
        texts = rows[start]
        weight = np.diff(start.to_numpy().astype(np.int64), append=rows.height)
        parts, bits, vocab = token_keys(texts.get_column("norm"), texts.get_column("spaced"))
        mask = (1 << bits) - 1
        # (float weights: exact, the counts are far below 2**53)
        df = np.zeros(vocab.size)
        for keys in parts:
            df += np.bincount(keys >> bits, weights=weight[keys & mask], minlength=vocab.size)
        df = df.astype(np.int64)
        rare = df <= PAIR_BUDGET
        keys = np.concatenate([keys[rare[keys >> bits]] for keys in parts])
        tok, text = keys >> bits, keys & mask
        # each kept (token, text) once per choice of the text, sorted by token and choice
        count = weight[text]
        first = start.to_numpy().astype(np.int64)[text]
        c = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
        cbits = self.n.bit_length()
        key = np.sort((np.repeat(tok, count) << cbits) | c)
        self.post = pl.DataFrame(
            {"t": vocab[key >> cbits], "c": pl.Series(key & ((1 << cbits) - 1), dtype=pl.Int64)}
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
