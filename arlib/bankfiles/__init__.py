"""Bank statement files → canonical receipts, debits, statement controls and findings.

One entry point, :func:`read_statement`, for SWIFT MT940/MT942, ISO 20022 CAMT.053/054,
OFX 1.x/2.x, BAI2 and bank CSV/XLSX exports (Chinese banks' 借方/贷方 layouts through named
:data:`PRESETS`). Credits become receipts; debits are kept in their own frame and reported,
never dropped. Every statement is checked (opening + credits − debits = closing) and
consecutive statements of an account are checked for gaps and overlaps. Problems come back
as a findings frame: a broken or hostile file is a finding, never an exception or a hang.

Every amount loads exactly or is refused (:func:`arlib.bankfiles.common.amount_refusal`:
``too_many_decimals``, ``amount_too_large``), with a finding naming the file, line, column
and the value as written; a refused line is not loaded, so it never enters the totals. Every
reader is linear in the size of its file, an XML DTD is refused in any encoding
(:mod:`arlib.bankfiles.xmlsafe`), and zips are checked for bombs before anything inflates
(:func:`check_zip_bomb`, :func:`check_xlsx`).

receipt_id: the format's own line id when it has a unique one (OFX FITID, CAMT
AcctSvcrRef, MT940 bank reference after ``//``, BAI2 bank reference, CSV 流水号); otherwise
``<file stem>-<statement ordinal>-<line ordinal, 5 digits>``, e.g. ``stmt1-1-00012``.
"""

from __future__ import annotations

from pathlib import Path

from arlib import findings as fnd
from arlib.bankfiles import archive, bai2, bank_csv, camt, mt940, ofx
from arlib.bankfiles.archive import MAX_ZIP_MEMBERS, MAX_ZIP_RATIO, check_xlsx, check_zip_bomb
from arlib.bankfiles.common import (
    MAX_AMOUNT,
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    STATEMENT_SCHEMA,
    BankRead,
    Part,
    Statement,
    assemble,
    assemble_parts,
    decode,
    find_long_line,
    read_bytes,
    receipt_id_base,
)
from arlib.bankfiles.detect import FORMATS, detect
from arlib.bankfiles.presets import PRESETS, Preset

__all__ = [
    "FORMATS",
    "MAX_AMOUNT",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "PRESETS",
    "STATEMENT_SCHEMA",
    "BankRead",
    "Preset",
    "check_xlsx",
    "check_zip_bomb",
    "read_statement",
]

_TEXT_FORMATS = {"mt940", "bai2", "ofx", "csv"}


def read_statement(
    path: Path | str,
    *,
    fmt: str | None = None,
    preset: str | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_line: int = MAX_LINE_BYTES,
) -> BankRead:
    """Read one bank file.

    ``fmt`` is one of :data:`FORMATS` (detected from the content when None); ``preset``
    names a CSV/XLSX header mapping from :data:`PRESETS` (the best-matching one is chosen
    when None); ``encoding`` overrides detection for text formats (BOM → utf-8-sig, valid
    utf-8 → utf-8, else gb18030 for CSV and latin-1 for SWIFT/BAI2/OFX). ``max_bytes`` caps
    the file size and ``max_line`` the length of a line in text formats.

    A ``.zip`` (recognised by content; an xlsx workbook is not a container) is read in
    memory: each member, in name order, as a file of its own (``fmt`` applies to every
    member), with ``source_file`` and findings naming ``<zip>!<member>``; ``max_bytes`` also
    caps each member and the members' total uncompressed size. Receipt ids that collide
    with an earlier member's get the member's stem as a prefix; the gap/overlap controls run
    across all members. ``fmt`` of the result is the members' format, or ``"zip"`` when
    they differ or none was read.
    """
    path = Path(path)
    found: list[fnd.Finding] = []
    data = read_bytes(path, max_bytes, found)
    if data is None:
        return assemble(path, [], found, fmt)
    if fmt is not None and fmt not in FORMATS:
        found.append(
            fnd.error(path, None, None, fmt, "bank_format", f"unknown format; use one of {FORMATS}")
        )
        return assemble(path, [], found, fmt)
    if archive.is_zip(data) and fmt != "xlsx" and not archive.is_spreadsheet(data, path):
        return _read_zip(data, path, fmt, preset, encoding, max_bytes, max_line, found)
    stmts, fmt = _parse(data, path, fmt, preset, encoding, max_line, found, max_bytes)
    return assemble(path, stmts, found, fmt)


def _read_zip(
    data: bytes,
    path: Path,
    fmt: str | None,
    preset: str | None,
    encoding: str | None,
    max_bytes: int,
    max_line: int,
    found: list[fnd.Finding],
) -> BankRead:
    """Each member of a zip read like a file of its own, then assembled together."""
    parts: list[Part] = []
    fmts: set[str | None] = set()
    for name, body in archive.read_members(data, path, max_bytes, found):
        member = Path(archive.member_label(path, name))
        stmts, got = _parse(body, member, fmt, preset, encoding, max_line, found, max_bytes)
        fmts.add(got)
        parts.append(Part(str(member), receipt_id_base(Path(name)), stmts))
    return assemble_parts(parts, found, fmts.pop() if len(fmts) == 1 else "zip")


def _parse(
    data: bytes,
    path: Path,
    fmt: str | None,
    preset: str | None,
    encoding: str | None,
    max_line: int,
    found: list[fnd.Finding],
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[list[Statement], str | None]:
    """The statements of one file's bytes and its format; problems go to ``found``."""
    fmt = fmt or detect(data, path)
    if fmt is None:
        found.append(
            fnd.error(
                path,
                1,
                None,
                None,
                "bank_format",
                "not a recognised bank statement format (MT940, CAMT, OFX, BAI2, CSV, XLSX)",
            )
        )
        return [], fmt
    if fmt in _TEXT_FORMATS:
        long = find_long_line(data, max_line)
        if long is not None:
            found.append(
                fnd.error(
                    path,
                    long[0],
                    None,
                    long[1],
                    "bank_line_too_long",
                    f"line {long[0]} is {long[1]} bytes, over the {max_line}-byte cap for "
                    f"{fmt} files; file not read",
                )
            )
            return [], fmt
    try:
        if fmt == "mt940":
            stmts, more = mt940.parse(
                decode(data, path, found, encoding=encoding, fallback="latin-1"), path
            )
        elif fmt == "bai2":
            stmts, more = bai2.parse(
                decode(data, path, found, encoding=encoding, fallback="latin-1"), path
            )
        elif fmt == "ofx":
            stmts, more = ofx.parse(data, path, encoding=encoding)
        elif fmt in {"camt053", "camt054"}:
            stmts, more = camt.parse(data, path)
        else:
            stmts, more = bank_csv.parse(
                data, path, fmt=fmt, preset=preset, encoding=encoding, max_bytes=max_bytes
            )
    except RecursionError:
        stmts, more = (
            [],
            [fnd.error(path, None, None, None, "bank_parse", "file nests too deeply; not read")],
        )
    except Exception as exc:  # a reader bug must not stop a close: report it as a finding
        stmts, more = (
            [],
            [
                fnd.error(
                    path,
                    None,
                    None,
                    None,
                    "bank_parse",
                    f"file could not be read as {fmt}: {type(exc).__name__}: {exc}",
                )
            ],
        )
    found.extend(more)
    return stmts, fmt
