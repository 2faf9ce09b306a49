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

The customer side (names and aliases with their forms, their token index, the payer
accounts) is a :class:`CustomerNames`, built once and shared: pass one to both functions
(a customers frame works too, prepared on the spot). Modules: :mod:`~arlib.payers.normalize`
(the forms), :mod:`~arlib.payers.master` (the customer side), :mod:`~arlib.payers.index`
(the token index), :mod:`~arlib.payers.exact` (steps 1-4), :mod:`~arlib.payers.fuzzy`
(step 5), :mod:`~arlib.payers.resolve` and :mod:`~arlib.payers.memo` (the two entry points).
"""

from arlib.payers.master import CustomerNames
from arlib.payers.memo import memo_payers
from arlib.payers.normalize import (
    loose_key_expr,
    normalize_account_expr,
    normalize_name,
    normalize_name_expr,
)
from arlib.payers.resolve import resolve_payers
from arlib.payers.schema import (
    CANDIDATE_METHODS,
    MEMO_PAYERS_SCHEMA,
    METHODS,
    PAYERS_SCHEMA,
)

__all__ = [
    "CANDIDATE_METHODS",
    "CustomerNames",
    "MEMO_PAYERS_SCHEMA",
    "METHODS",
    "PAYERS_SCHEMA",
    "loose_key_expr",
    "memo_payers",
    "normalize_account_expr",
    "normalize_name",
    "normalize_name_expr",
    "resolve_payers",
]
