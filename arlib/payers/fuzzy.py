"""Fuzzy resolution of the distinct payer names no exact key resolved: candidate pairs from
the inverted index and the frames, scored with rapidfuzz, then the forms (shortened,
truncated, glued, one slip) and the decision (resolved, candidates, or a suggestion)."""

from __future__ import annotations

import numpy as np
import polars as pl

from arlib.payers.index import FUZZY_MAX_CHARS, among, firsts, tokens
from arlib.payers.master import CustomerNames

HAN = r"\p{Han}"
#: separators other than the space that rapidfuzz's token scorers split words at
SPLIT = r"[\x1c-\x1f]"
#: a name scoring at least FRAME_FROM against a customer is also compared with the names
#: of its frames (first and last characters) that hold at most FRAME_BUDGET names
FRAME_FROM = 80
FRAME_BUDGET = 3_000
#: below this score (0-100) a pair is neither near nor a shortened / glued form
FORM_FLOOR = 50
#: a block (the queries sharing a token or a frame) of at least this many queries is scored
#: in one ``cdist``, every query against every name of the block; smaller ones pair by pair
BLOCK_FROM = 4
#: a truncated bank field still scores at least this against the customer's name
TRUNCATED_FROM = 70


class _Strings:
    """The Python strings of a text column (rapidfuzz reads ``str`` objects), made for the
    rows asked for only: the fuzzy stage reads a fraction of the customer names."""

    def __init__(self, texts: pl.Series):
        self.texts = texts
        self.made = np.zeros(texts.len(), dtype=bool)
        self.of = np.empty(texts.len(), dtype=object)

    def need(self, rows: np.ndarray) -> None:
        new = np.zeros(self.made.size, dtype=bool)
        new[rows] = True
        at = np.flatnonzero(new & ~self.made)
        if at.size:
            self.of[at] = self.texts.gather(at).to_numpy()
            self.made[at] = True


def frame_keys(text: str) -> list[pl.Expr]:
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


def frames(q: pl.DataFrame, ch: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(g, q), and g, c sorted by g and c: the frames (numbered g in the order of their
    keys) of the queries and of the choices, frames of more than FRAME_BUDGET choices left
    out: who else a slip in the middle of a name comes near. Only the choices beginning as
    some query does can share its frames (and then all of a frame's choices do: their count
    is the frame's)."""
    n_c = max(ch.height, 1)
    heads = q.select(pl.col("qn").str.slice(0, 2)).to_series().implode()
    ch = ch.select("c", "norm").filter(pl.col("norm").str.slice(0, 2).is_in(heads))
    qs, cs = [], []
    for n, (qk, ck) in enumerate(zip(frame_keys("qn"), frame_keys("norm"), strict=True)):
        cf = ch.select("c", pl.concat_str(pl.lit(f"{n}"), ck).alias("_f"))
        cs.append(cf.filter(pl.len().over("_f") <= FRAME_BUDGET))
        qs.append(q.select("q", pl.concat_str(pl.lit(f"{n}"), qk).alias("_f")))
    qf, cf = pl.concat(qs), pl.concat(cs)
    # only the queries' frames make blocks
    number = qf.select("_f").unique().sort("_f").with_columns(pl.int_range(pl.len()).alias("g"))
    gc = cf.join(number, on="_f").select(pl.col("g") * n_c + pl.col("c"))
    gc = np.sort(gc.to_series().to_numpy())
    return qf.join(number, on="_f").select("g", "q"), gc // n_c, gc % n_c


# --------------------------------------------------------------------------- fuzzy names
def fuzzy(
    todo: pl.DataFrame,
    customers: CustomerNames,
    *,
    auto_threshold: float,
    suggest_threshold: float,
    margin: float,
) -> pl.DataFrame:
    """Per distinct unresolved name (``_norm``): ``_fz_c`` (the resolved customer, or null),
    ``_fz_s`` (the best score), ``_fz_cands`` (candidate customers, or null), ``_fz_cid`` /
    ``_fz_cs`` (the best customer and score when not resolved), against the choices of
    ``customers`` and their index."""
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
    ch = customers.choices
    if todo.height == 0 or ch.height == 0:
        return pl.DataFrame(schema=schema)
    index = customers.index
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

    qa = {k: arr(q, k) for k in ("qn", "ql", "qs")}
    ca = {k: _Strings(c.get_column(k)) for k in ("cn", "cl", "cs")}
    qlen = q.get_column("qn").str.len_chars().to_numpy()
    clen = c.get_column("cn").str.len_chars().to_numpy()
    qplen = q.get_column("qp").str.len_chars().to_numpy()
    cplen = c.get_column("cp").str.len_chars().to_numpy()
    q_han = q.get_column("qn").str.contains(HAN).to_numpy()
    c_han = c.get_column("cn").str.contains(HAN).to_numpy()
    # which names have another loose key, which have several words (Chinese names have one)
    q_loose = (q.get_column("ql") != q.get_column("qn")).to_numpy()
    c_loose = (c.get_column("cl") != c.get_column("cn")).to_numpy()
    q_words = q.get_column("qs").str.contains(" ").to_numpy()
    c_words = c.get_column("cs").str.contains(" ").to_numpy()
    # where the word order can change a score: words, or another separator rapidfuzz
    # splits words at (spaces are all " " by now)
    q_split = q_words | q.get_column("qs").str.contains(SPLIT).to_numpy()
    c_split = c_words | c.get_column("cs").str.contains(SPLIT).to_numpy()
    cust = ch.get_column("cc").to_numpy()

    def run(a: str, b: str, scorer, qs: np.ndarray, cs: np.ndarray, *, pairwise: bool):
        if pairwise:
            return process.cpdist(
                qa[a][qs],
                ca[b].of[cs],
                scorer=scorer,
                score_cutoff=FORM_FLOOR,
                dtype=np.float32,
                workers=-1,
            )
        return process.cdist(
            qa[a][qs], ca[b].of[cs], scorer=scorer, score_cutoff=FORM_FLOOR, dtype=np.float32
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
        rows = c_of[np.repeat(start_c - np.cumsum(n_c) + n_c, n_c) + np.arange(n_c.sum())]
        for k in ca:
            ca[k].need(rows)
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
        keys = keys[firsts(keys)]
        if found:
            keys = keys[~among(keys, np.concatenate([x[0] * index.n + x[1] for x in found]))]
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
        index.selected(tokens(q, "q", "qn", "qs")).select(pl.col("t").alias("g"), "q"),
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
        score_blocks(*frames(q.filter(pl.col("q").is_in(near)), ch), hi - mg - 0.5)
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
                ca["cn"].of[ci[where]],
                scorer=OSA.distance,
                score_cutoff=1,
                dtype=np.int32,
                workers=-1,
            )
            == 1
        )

    # the forms' texts: a name in the other (whole words in spaces unless Chinese), a prefix
    def pair_texts(mask: np.ndarray, qcol: str, ccol: str) -> tuple[np.ndarray, pl.Expr, pl.Expr]:
        where = np.flatnonzero(mask)
        a = q.get_column(qcol).gather(qi[where]).alias("a")
        b = c.get_column(ccol).gather(ci[where]).alias("b")
        return where, pl.lit(a), pl.lit(b)

    where, qn_, cn_ = pair_texts(short, "qn", "cn")
    _, qs_, cs_ = pair_texts(short, "qs", "cs")
    short[where] = pl.select(
        pl.when(pl.lit(pl.Series(q_han[qi[where]])))
        .then(cn_.str.contains(qn_, literal=True))
        .otherwise((" " + cs_ + " ").str.contains(" " + qs_ + " ", literal=True))
    ).to_series()
    where, qp_, cp_ = pair_texts(trunc, "qp", "cp")
    trunc[where] = pl.select(cp_.str.starts_with(qp_)).to_series()
    where, qn_, cn_ = pair_texts(glued, "qn", "cn")
    glued[where] = pl.select(qn_.str.contains(cn_, literal=True)).to_series()
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
