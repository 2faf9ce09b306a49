"""The inverted token index of payer resolution (arlib.payers.index), on hand-counted tokens."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from arlib.payers.index import Index, one_each, token_keys


def token(text: str | None, seed: int) -> int:
    """The token of one gram (seeds: 0 bigram, 1 trigram, 2 swapped pair, 3 pair one
    apart, 4 digit run, 5 word)."""
    return int(pl.Series([text], dtype=pl.String).hash(seed=seed)[0])


def test_token_keys_each_row_token_once():
    parts, bits, vocab = token_keys(
        pl.Series(["abab", "ab12", "xyz"]), pl.Series(["abab", "ab 12", "xyz"])
    )
    keys = np.concatenate(parts)
    assert np.unique(keys).size == keys.size
    rows = keys & ((1 << bits) - 1)
    # abab: bigrams ab ba (ab twice), trigrams aba bab + the null one, swapped pair {a,b}
    # (three times), pairs one apart aa bb + null, the word abab: 2 + 3 + 1 + 3 + 1
    # ab12: 3 bigrams, 2 trigrams + null, 3 swapped pairs, 2 one apart + null, the digit run
    # 12; words ab and 12 are under three characters: 3 + 3 + 3 + 3 + 1
    # xyz: 2 + 2 + 2 + 2 + the word xyz
    assert np.bincount(rows).tolist() == [10, 13, 9]
    abab = set(vocab[keys[rows == 0] >> bits].tolist())
    assert {token("ab", 0), token("ba", 0), token("bab", 1), token(None, 1)} <= abab
    assert {token("aa", 3), token("abab", 5)} <= abab
    assert token("12", 4) in set(vocab[keys[rows == 1] >> bits].tolist())


def test_one_each_merges_parts_sharing_a_token():
    # bits 2: key = tok << 2 | row; token 1 of row 0 is in both parts (a hash collision)
    merged = one_each([np.array([4, 13]), np.array([4, 5, 8])], 2, 4)
    assert [k.tolist() for k in merged] == [[4, 5, 8, 13]]
    apart = [np.array([4]), np.array([8])]
    assert one_each(apart, 2, 4) is apart


def test_index_counts_choices_not_texts():
    # choices 0 and 1 share a text (a name and an alias alike): it counts twice
    ch = pl.DataFrame({"norm": ["abc", "abc", "abd"], "spaced": ["abc", "abc", "abd"]})
    index = Index(ch)
    df = dict(index.freq.iter_rows())
    assert df[token("ab", 0)] == 3
    assert df[token("bc", 0)] == 2
    assert df[token("abd", 1)] == 1
    assert df[token("abc", 5)] == 2
    assert df[token(None, 1)] == 3
    post = index.post.group_by("t", maintain_order=True).agg("c")
    lists = dict(post.iter_rows())
    assert lists[token("bc", 0)] == [0, 1]
    assert lists[token("ab", 0)] == [0, 1, 2]
    assert lists[token("ad", 3)] == [2]
    # sorted by token, then choice
    t, c = index.post.get_column("t").to_numpy(), index.post.get_column("c").to_numpy()
    assert np.all((t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (c[1:] > c[:-1])))


def naive_tokens(text: str, spaced: str) -> set[tuple[str | None, int]]:
    """The tokens of one text by their definition: bigrams, trigrams (and the null one),
    adjacent pairs in either order, pairs one apart (and the null one), digit runs, words
    of three characters or more."""
    grams = {(text[i : i + 2], 0) for i in range(len(text) - 1)}
    grams |= {(text[i : i + 3], 1) for i in range(len(text) - 2)}
    grams |= {("".join(sorted(text[i : i + 2])), 2) for i in range(len(text) - 1)}
    grams |= {(text[i] + text[i + 2], 3) for i in range(len(text) - 2)}
    if len(text) > 1:
        grams |= {(None, 1), (None, 3)}
    grams |= {(d, 4) for d in re.findall(r"\d+", text)}
    return grams | {(w, 5) for w in spaced.split(" ") if len(w) >= 3}


def test_token_keys_on_a_wide_alphabet():
    # ~48k characters: a gram's number passes 2**31 (and the table), so 64-bit arithmetic
    rng = np.random.default_rng(1)
    alphabet = [chr(c) for c in [*range(0x4E00, 0x9FFF), *range(0x3400, 0x4DBF)]]
    alphabet += [chr(c) for c in range(0x20000, 0x24E20)] + list("0123456789ab")
    texts = ["".join(rng.choice(alphabet, int(rng.integers(1, 12)))) for _ in range(400)]
    texts += ["abab", "ab12cd34", "x", "上海上海"]
    spaced = [t[:3] + " " + t[3:] if i % 3 == 0 else t for i, t in enumerate(texts)]
    parts, bits, vocab = token_keys(pl.Series(texts), pl.Series(spaced))
    keys = np.concatenate(parts)
    got: dict[int, set[int]] = {}
    rows, toks = (keys & ((1 << bits) - 1)).tolist(), vocab[keys >> bits].tolist()
    for row, tok in zip(rows, toks, strict=True):
        got.setdefault(row, set()).add(tok)
    for row, (text, words) in enumerate(zip(texts, spaced, strict=True)):
        want = {token(g, seed) for g, seed in naive_tokens(text, words)}
        assert got.get(row, set()) == want, text
