"""Zip containers of bank files, read safely in memory (never extracted to disk).

Banks and portals often deliver a day's statements as one ``.zip``. A zip is hostile input
like any other file, so: the member count is capped, each member's size and the total are
capped by the caller's byte limit (checked on the declared size *and* counted while
decompressing, so a lying header or a zip bomb stops at the cap), a member that inflates
more than :data:`MAX_ZIP_RATIO` times is refused, members whose data overlap (the
"overlapping files" zip bomb, where one compressed kernel is shared by many entries) make
the whole archive refused, absolute or ``..`` member names, nested archives and encrypted
members are refused, and a corrupt archive is a finding naming the file.

:func:`check_zip_bomb` is the same check for any zip another reader opens itself (an XLSX
workbook: :func:`check_xlsx` adds that none of its XML parts carries a DTD). Python's
``zipfile`` never inflates a member past its declared size (it stops there and fails the
CRC), so once the declared sizes pass, a reader using ``zipfile`` is bounded by them.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from arlib import findings as fnd
from arlib.findings import Finding

ZIP_MAGIC = b"PK\x03\x04"

MAX_ZIP_MEMBERS = 1000
"""A zip with more files than this is refused with a finding."""

MAX_ZIP_RATIO = 200
"""A member declaring more than this many bytes per compressed byte is refused as a zip
bomb (deflate peaks near 1032; real statements and workbooks stay well below 100), once it
inflates to more than :data:`RATIO_FLOOR` bytes."""

RATIO_FLOOR = 1024 * 1024
"""Members smaller than this are not judged by their ratio (a small run of zeros is fine)."""

_SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm"}
_CHUNK = 1024 * 1024


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def is_spreadsheet(data: bytes, path: Path | str) -> bool:
    """An xlsx workbook (itself a zip) rather than a container of bank files."""
    if Path(path).suffix.lower() in _SPREADSHEET_SUFFIXES:
        return True
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except Exception:  # a corrupt zip is reported by read_members
        return False
    return "xl/workbook.xml" in names


def member_label(path: Path, name: str) -> str:
    """How a member is named in source_file and findings: ``<zip path>!<member name>``."""
    return f"{path}!{name}"


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name:
        return True
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return True
    return ".." in re.split(r"[\\/]", name)


def _ratio(info: zipfile.ZipInfo) -> float:
    return info.file_size / max(info.compress_size, 1)


def _is_bomb(info: zipfile.ZipInfo, max_ratio: float) -> bool:
    return info.file_size > RATIO_FLOOR and _ratio(info) > max_ratio


def _overlap(infos: list[zipfile.ZipInfo]) -> tuple[str, str] | None:
    """Two members whose compressed data overlap (never in an honest zip), else None.

    A member's data ends at least at ``header_offset + 30 + len(name) + compress_size`` (its
    local header's extra field only adds to that), so a later member starting before that
    point shares bytes with it; no false alarms.
    """
    spans = sorted(infos, key=lambda i: i.header_offset)
    for a, b in zip(spans, spans[1:], strict=False):
        name_len = len(
            a.orig_filename.encode("utf-8" if a.flag_bits & 0x800 else "cp437", "replace")
        )
        end = a.header_offset + 30 + name_len + a.compress_size
        if b.header_offset < end:
            return a.filename, b.filename
    return None


def check_zip_bomb(
    source: Path | str | bytes | zipfile.ZipFile,
    shown: Path | str,
    limit_bytes: int,
    *,
    max_ratio: float | None = None,
    max_members: int | None = None,
    rule_prefix: str = "zip",
) -> list[Finding]:
    """Error findings (file ``shown``) when a zip may not be opened, else ``[]``.

    ``max_ratio`` and ``max_members`` default to :data:`MAX_ZIP_RATIO` and
    :data:`MAX_ZIP_MEMBERS`. Refused: more than ``max_members`` entries
    (``<prefix>_too_many_members``); a member
    declaring more than ``limit_bytes`` uncompressed (``<prefix>_member_too_large``) or
    inflating more than ``max_ratio`` times beyond :data:`RATIO_FLOOR` bytes
    (``<prefix>_bomb``); members declaring more than ``limit_bytes`` in total
    (``<prefix>_too_large``); members whose data overlap (``<prefix>_bomb``); an archive
    that cannot be read (``<prefix>_corrupt``). Reads only the central directory: nothing
    is inflated, so it is fast and safe on any input; a reader that then uses ``zipfile``
    cannot inflate past the declared sizes checked here.
    """
    max_ratio = MAX_ZIP_RATIO if max_ratio is None else max_ratio
    max_members = MAX_ZIP_MEMBERS if max_members is None else max_members
    out: list[Finding] = []

    def refuse(rule: str, message: str, value=None, file=shown) -> None:
        out.append(fnd.error(file, None, None, value, f"{rule_prefix}_{rule}", message))

    try:
        if isinstance(source, zipfile.ZipFile):
            infos = source.infolist()
        else:
            src = io.BytesIO(source) if isinstance(source, bytes) else source
            with zipfile.ZipFile(src) as zf:
                infos = zf.infolist()
    except Exception as exc:  # BadZipFile, OSError, ValueError, EOFError on junk
        refuse(
            "corrupt", f"{Path(str(shown)).name} is not a readable zip: {type(exc).__name__}: {exc}"
        )
        return out
    if len(infos) > max_members:
        refuse(
            "too_many_members",
            f"zip holds {len(infos)} entries, over the {max_members}-entry cap; not read",
            len(infos),
        )
        return out
    total = 0
    for info in infos:
        label = member_label(Path(str(shown)), info.filename)
        total += info.file_size
        if info.file_size > limit_bytes:
            refuse(
                "member_too_large",
                f"member declares {info.file_size} bytes uncompressed, over the "
                f"{limit_bytes}-byte cap; not read",
                info.file_size,
                label,
            )
        elif _is_bomb(info, max_ratio):
            refuse(
                "bomb",
                f"member inflates {_ratio(info):.0f} times ({info.compress_size} → "
                f"{info.file_size} bytes), over the {max_ratio:g}x cap: a zip bomb?; not read",
                info.file_size,
                label,
            )
    if total > limit_bytes and not out:
        refuse(
            "too_large",
            f"members declare {total} bytes uncompressed in all, over the {limit_bytes}-byte "
            "cap; not read",
            total,
        )
    pair = _overlap(infos)
    if pair is not None:
        refuse(
            "bomb",
            f"members {pair[0]!r} and {pair[1]!r} share compressed data (an overlapping-"
            "entries zip bomb); not read",
            pair[1],
        )
    return out


def check_xlsx(source: Path | str | bytes, shown: Path | str, limit_bytes: int) -> list[Finding]:
    """Error findings when an XLSX workbook may not be opened, else ``[]``.

    :func:`check_zip_bomb` (rules ``xlsx_*``), then every XML part (``*.xml``, ``*.rels``,
    ``*.vml``) is checked for a DOCTYPE/ENTITY declaration in whatever encoding
    (:func:`arlib.bankfiles.xmlsafe.find_doctype`, reading at most
    :data:`~arlib.bankfiles.xmlsafe.PROLOG_BYTES` of each, which the prolog must fit in):
    ``xml_dtd_refused`` naming ``<file>!<part>`` and the line.
    """
    from arlib.bankfiles import xmlsafe

    try:
        if isinstance(source, bytes):
            zf = zipfile.ZipFile(io.BytesIO(source))
        else:
            zf = zipfile.ZipFile(source)
    except Exception as exc:
        return [
            fnd.error(
                shown,
                None,
                None,
                None,
                "xlsx_unreadable",
                f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
            )
        ]
    with zf:
        out = check_zip_bomb(zf, shown, limit_bytes, rule_prefix="xlsx")
        if out:
            return out
        for info in zf.infolist():
            if info.is_dir() or not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            label = member_label(Path(str(shown)), info.filename)
            try:
                with zf.open(info) as fh:
                    head = fh.read(xmlsafe.PROLOG_BYTES)
            except Exception as exc:  # bad CRC, encrypted, unsupported compression
                out.append(
                    fnd.error(
                        label,
                        None,
                        None,
                        None,
                        "xlsx_unreadable",
                        f"workbook part could not be read: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            refused = xmlsafe.refusal(head, label, complete=len(head) < xmlsafe.PROLOG_BYTES)
            if refused is not None:
                out.append(refused)
    return out


def read_members(data: bytes, path: Path, max_bytes: int, out: list[Finding]) -> list[tuple]:
    """``[(name, bytes), ...]`` of the zip's files sorted by name; problems go to ``out``.

    A member that is refused (unsafe name, too large, nested zip, encrypted, unreadable)
    is left out with an error finding; the others are still returned.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except Exception as exc:  # BadZipFile, but also OSError/ValueError/EOFError on junk
        out.append(
            fnd.error(
                path,
                None,
                None,
                None,
                "bank_zip_corrupt",
                f"{path.name} is not a readable zip: {type(exc).__name__}: {exc}",
            )
        )
        return []
    with zf:
        if len(infos) > MAX_ZIP_MEMBERS:
            out.append(
                fnd.error(
                    path,
                    None,
                    None,
                    len(infos),
                    "bank_zip_too_many_members",
                    f"zip holds {len(infos)} files, over the {MAX_ZIP_MEMBERS}-file cap; not read",
                )
            )
            return []
        if not infos:
            out.append(fnd.error(path, None, None, None, "bank_zip_empty", "zip holds no files"))
            return []
        pair = _overlap(zf.infolist())
        if pair is not None:
            out.append(
                fnd.error(
                    path,
                    None,
                    None,
                    pair[1],
                    "bank_zip_bomb",
                    f"members {pair[0]!r} and {pair[1]!r} share compressed data (an "
                    "overlapping-entries zip bomb); not read",
                )
            )
            return []
        members: list[tuple[str, bytes]] = []
        total = 0  # decompressed bytes so far, refused members included
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            label = member_label(path, name)

            def refuse(rule: str, message: str, value=None, _label=label) -> None:
                out.append(fnd.error(_label, None, None, value, rule, message))

            if _unsafe_name(name):
                refuse(
                    "bank_zip_unsafe_name",
                    "absolute or '..' member name in zip; member not read",
                    name,
                )
                continue
            if info.flag_bits & 0x1:
                refuse("bank_zip_member_unreadable", "member is encrypted; not read")
                continue
            budget = max_bytes - total
            if info.file_size > budget:
                refuse(
                    "bank_zip_member_too_large",
                    f"member declares {info.file_size} bytes uncompressed, over the "
                    f"{budget}-byte budget left of the {max_bytes}-byte cap; not read",
                    info.file_size,
                )
                continue
            if _is_bomb(info, MAX_ZIP_RATIO):
                refuse(
                    "bank_zip_bomb",
                    f"member inflates {_ratio(info):.0f} times ({info.compress_size} → "
                    f"{info.file_size} bytes), over the {MAX_ZIP_RATIO}x cap: a zip bomb?; "
                    "not read",
                    info.file_size,
                )
                continue
            chunks: list[bytes] = []
            got = 0
            try:
                with zf.open(info) as fh:
                    while got <= budget:
                        chunk = fh.read(min(_CHUNK, budget + 1 - got))
                        if not chunk:
                            break
                        chunks.append(chunk)
                        got += len(chunk)
            except Exception as exc:  # bad CRC (lying header), zlib error, unsupported method
                total += got
                refuse(
                    "bank_zip_member_unreadable",
                    f"member could not be decompressed: {type(exc).__name__}: {exc}",
                )
                continue
            total += got
            if got > budget:
                refuse(
                    "bank_zip_member_too_large",
                    f"member decompresses to more than {budget} bytes (it declared "
                    f"{info.file_size}), over the {max_bytes}-byte cap; not read",
                    info.file_size,
                )
                continue
            body = b"".join(chunks)
            if is_zip(body) and Path(name).suffix.lower() not in _SPREADSHEET_SUFFIXES:
                refuse("bank_zip_nested", "member is itself a zip; nested zips are not read")
                continue
            members.append((name, body))
    return members
