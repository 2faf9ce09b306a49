"""Which bank format a file is, from its first bytes (never from its name alone).

Content decides because users rename exports freely (``.txt``, ``.dat``, ``.sta``); the
extension is only a tie-breaker for spreadsheets, which are zip containers.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from arlib.bankfiles.common import bom_encoding, sniff_wide

FORMATS = ("mt940", "camt053", "camt054", "ofx", "bai2", "csv", "xlsx")

_HEAD = 65536


def detect(data: bytes, path: Path) -> str | None:
    """The format of ``data`` (one of :data:`FORMATS`), or None when it is none of them.

    Text in UTF-16 or UTF-32 (a BOM, or the NUL bytes of a first ASCII character) is
    decoded first, so a CAMT or OFX file written that way is recognised (and then read, or
    refused, by its reader) rather than called unknown."""
    head = data[:_HEAD]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx" if path.suffix.lower() in {".xlsx", ".xlsm", ""} else None
    wide = bom_encoding(head) or sniff_wide(head)
    if wide is not None and wide != "utf-8-sig":
        text = codecs.getincrementaldecoder(wide)(errors="replace").decode(data[: _HEAD * 4])
        head = text.lstrip("\ufeff").encode("utf-8")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    low = text.lower()
    if b"<ofx" in low or low.startswith(b"ofxheader"):
        return "ofx"
    if low.startswith(b"<?xml") or low.startswith(b"<"):
        if b"camt.054" in low or b"bktocstmrdbtcdtntfctn" in low:
            return "camt054"
        if b"camt.05" in low or b"bktocstmr" in low:
            return "camt053"
        return "camt053" if b"<document" in low else None
    if re.match(rb"01,[^\n]*\n?", text) and re.search(rb"(^|/\s*|\n)02,", text):
        return "bai2"
    if re.search(rb"(?m)^:20:", text) or re.search(rb"(?m)^:(25|60F|61):", text):
        return "mt940"
    if re.search(rb"[,;\t]", text):
        return "csv"
    return None
