"""Zip containers of bank files, read safely in memory (never extracted to disk).

Banks and portals often deliver a day's statements as one ``.zip``. A zip is hostile input
like any other file, so: the member count is capped, each member's size and the total are
capped by the caller's byte limit (checked on the declared size *and* counted while
decompressing, so a lying header or a zip bomb stops at the cap), absolute or ``..``
member names, nested archives and encrypted members are refused, and a corrupt archive is
a finding naming the file.
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
