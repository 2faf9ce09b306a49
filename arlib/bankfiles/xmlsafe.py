"""XML is read without any DTD, whatever its encoding.

A bank never needs a document type declaration, and it is the vehicle of XXE (external
entities) and billion-laughs (entity expansion) attacks, so any ``<!DOCTYPE`` or
``<!ENTITY`` is refused with a finding naming the file and line, never parsed. A byte search
for ``<!DOCTYPE`` alone misses a file written in UTF-16 or UTF-32 (with or without a BOM),
EBCDIC, or an ASCII-compatible encoding its XML declaration names (``encoding="UTF-7"``
spells ``<`` as ``+ADw-``), so the check here decodes the file the way an XML parser would
(:func:`sniff_encoding`, XML 1.0 appendix F: byte-order mark, else the byte pattern of the
first character, else the declaration) and walks its prolog, everything before the root
element: only whitespace, processing instructions (``<?...?>``) and comments may stand
there. Any other ``<!`` markup in the prolog is refused, and so is a prolog that does not
end within :data:`PROLOG_BYTES` (nothing legitimate pads a bank file with a megabyte of
comments, and it would put a declaration beyond the check). After parsing, the tree's own
record of a DTD is checked again (:func:`parse`), so an encoding this module does not know
but libxml2 does cannot slip one through either.

Used for CAMT.053/054, OFX 2.x and the XML parts of an XLSX workbook
(:func:`arlib.bankfiles.archive.check_xlsx`).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from lxml import etree

from arlib import findings as fnd
from arlib.bankfiles.common import bom_encoding, sniff_wide
from arlib.findings import Finding

PROLOG_BYTES = 1024 * 1024
"""The prolog (before the root element) must end within this many bytes."""

_DTD_BYTES = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECL_ENCODING = re.compile(
    r"""<\?xml\b[^>]{0,500}?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
_WS = re.compile(r"[ \t\r\n]*")
_DECL = re.compile(r"<!\s{0,20}[A-Za-z\[]{0,20}")
_WIDE = {"utf-16", "utf-32", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"}


def sniff_encoding(data: bytes) -> str:
    """The codec an XML parser would read ``data`` with (XML 1.0 appendix F).

    A byte-order mark decides (UTF-8/16/32); else UTF-16/32 is recognised from the NUL bytes
    of the first character, and EBCDIC from ``<?xm`` in code page 500; else the
    ``encoding="..."`` of the XML declaration when Python knows that codec and it fits the
    byte pattern; else UTF-8.
    """
    bom = bom_encoding(data)
    if bom is not None:
        return bom
    wide = sniff_wide(data)
    if wide is not None:
        return wide
    family = "cp500" if data.startswith(b"\x4c\x6f\xa7\x94") else "utf-8"
    m = _DECL_ENCODING.match(data[:1024].decode(family, errors="replace"))
    if m:
        try:
            name = codecs.lookup(m[1]).name
        except LookupError:
            return family
        if name not in _WIDE:
            return name
    return family


def _prolog(text: str, complete: bool) -> tuple[int, str] | None:
    """``(offset, what)`` of the first thing in the prolog that is refused, else None."""
    n = len(text)
    i = 1 if text.startswith("\ufeff") else 0
    while True:
        i = _WS.match(text, i).end()
        if i >= n:
            return None if complete else (i, "")
        if text.startswith("<?", i):
            start, end = i + 2, "?>"
        elif text.startswith("<!--", i):
            start, end = i + 4, "-->"
        elif text.startswith("<!", i):
            return i, _DECL.match(text, i)[0]
        else:
            return None  # the root element (or text a parser rejects)
        j = text.find(end, start)
        if j < 0:
            return None if complete else (n, "")
        i = j + len(end)


def find_doctype(data: bytes, *, complete: bool = True) -> tuple[int, str] | None:
    """``(line, text)`` of a DOCTYPE/ENTITY declaration in XML bytes, whatever the encoding.

    ``text`` is ``""`` when the prolog does not end within :data:`PROLOG_BYTES` (nor within
    ``data`` when ``complete`` is False, i.e. ``data`` is only the start of a file). Linear
    in the size of the data.
    """
    m = _DTD_BYTES.search(data)  # ASCII-compatible encodings: anywhere in the file
    if m:
        return data.count(b"\n", 0, m.start()) + 1, m[0].decode("ascii", "replace")
    enc = sniff_encoding(data)
    head = data[:PROLOG_BYTES]
    whole = complete and len(data) <= PROLOG_BYTES
    try:
        text = codecs.getincrementaldecoder(enc)(errors="replace").decode(head, final=whole)
    except LookupError:  # pragma: no cover - sniff_encoding returns known codecs only
        return None
    hit = _prolog(text, whole)
    if hit is None:
        return None
    offset, what = hit
    line = text.count("\n", 0, offset) + 1
    return line, what


def refusal(data: bytes, file: Path | str, *, complete: bool = True) -> Finding | None:
    """An ``xml_dtd_refused`` error naming ``file`` and the line, or None when the XML
    carries no document type declaration (see :func:`find_doctype`)."""
    hit = find_doctype(data, complete=complete)
    if hit is None:
        return None
    line, what = hit
    if not what:
        return fnd.error(
            file,
            line,
            None,
            None,
            "xml_dtd_refused",
            f"XML prolog (before the root element) runs past {PROLOG_BYTES} bytes, so a "
            "DOCTYPE/ENTITY declaration cannot be ruled out; not read",
        )
    return fnd.error(
        file,
        line,
        None,
        what.strip(),
        "xml_dtd_refused",
        "XML with a DOCTYPE/ENTITY declaration is refused (external entities and entity "
        "expansion are not allowed in bank files); not read",
    )


def parser() -> etree.XMLParser:
    """An lxml parser that loads no DTD, expands no entity, uses no network, and keeps the
    default libxml2 limits on depth and text size (no ``huge_tree``)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes, file: Path | str) -> tuple[etree._Element | None, list[Finding]]:
    """The root element of ``data``, or None and the findings that refuse it.

    A DOCTYPE is refused before parsing (:func:`refusal`) and, as a backstop, after it from
    the parsed document's own DTD record; malformed XML is ``xml_malformed`` with its line.
    """
    refused = refusal(data, file)
    if refused is not None:
        return None, [refused]
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        return None, [
            fnd.error(file, line, None, None, "xml_malformed", f"not well-formed XML: {exc.msg}")
        ]
    except (ValueError, LookupError) as exc:  # e.g. an encoding libxml2 cannot convert
        return None, [
            fnd.error(file, None, None, None, "xml_malformed", f"XML could not be read: {exc}")
        ]
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        return None, [
            fnd.error(
                file,
                None,
                None,
                info.doctype or "DTD",
                "xml_dtd_refused",
                "XML with a DOCTYPE/ENTITY declaration is refused; not read",
            )
        ]
    return root, []
