"""Preparer and reviewer sign-off per workpaper section, recorded beside the close.

Why a file: a sign-off is a person's statement about a published close, made after the
close ran, so it cannot live in the notebooks or the workbook the close wrote. It is kept
in ``outputs/<period>/signoff.yaml`` (one record per sign-off, never edited in place),
recorded with ``arlib signoff``, shown in notebook 04 whenever it is (re-)run and copied
into the workbook's Sign-off sheet when it is recorded. Reopening a close
(``arlib close --reopen``) starts the new version unsigned; the old sign-offs stay with the
old version in ``.history/``.

Rules an auditor expects: a reviewer signs a section only after its preparer did, not as
the same person (segregation of duties) and not with an earlier date; no sign-off is dated
in the future; a later sign-off of the same role supersedes the earlier one in the table,
while the file keeps both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import polars as pl
import yaml

SIGNOFF_FILE = "signoff.yaml"
ROLES = ("preparer", "reviewer")
TABLE_COLUMNS = ("Ref", "Section", "Preparer", "Prepared on", "Reviewer", "Reviewed on", "Notes")


class SignOffError(ValueError):
    """A sign-off that cannot be recorded; the message says why."""


@dataclasses.dataclass(frozen=True)
class SignOff:
    section: str
    role: str
    name: str
    date: dt.date
    note: str = ""
    recorded_at: str = ""


def read_signoffs(folder: Path) -> list[SignOff]:
    """The sign-offs recorded for the close in ``folder`` (none if the file is absent)."""
    path = Path(folder) / SIGNOFF_FILE
    if not path.is_file():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        return [
            SignOff(
                section=str(r["section"]),
                role=str(r["role"]),
                name=str(r["name"]),
                date=dt.date.fromisoformat(str(r["date"])),
                note=str(r.get("note") or ""),
                recorded_at=str(r.get("recorded_at") or ""),
            )
            for r in raw
        ]
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise SignOffError(f"{path}: not a sign-off record ({exc})") from None


def latest(signoffs: list[SignOff]) -> dict[tuple[str, str], SignOff]:
    """The sign-off in force per (section, role): the last one recorded."""
    return {(s.section, s.role): s for s in signoffs}


def signoff_table(signoffs: list[SignOff], sections: list[tuple[str, str]]) -> pl.DataFrame:
    """One row per workpaper section (ref, title): who prepared and reviewed it, when."""
    current = latest(signoffs)
    rows = []
    for ref, title in sections:
        prepared = current.get((ref, "preparer"))
        reviewed = current.get((ref, "reviewer"))
        notes = "; ".join(s.note for s in (prepared, reviewed) if s is not None and s.note)
        rows.append(
            {
                "Ref": ref,
                "Section": title,
                "Preparer": prepared.name if prepared else "",
                "Prepared on": str(prepared.date) if prepared else "",
                "Reviewer": reviewed.name if reviewed else "",
                "Reviewed on": str(reviewed.date) if reviewed else "",
                "Notes": notes,
            }
        )
    return pl.DataFrame(rows, schema=dict.fromkeys(TABLE_COLUMNS, pl.String))


def sections_of(folder: Path) -> list[tuple[str, str]]:
    """The workpaper sections (ref, title) of the close published in ``folder``."""
    manifest = Path(folder) / "manifest.json"
    if not manifest.is_file():
        raise SignOffError(f"{folder} holds no published close (no manifest.json): close it first")
    recorded = json.loads(manifest.read_text(encoding="utf-8")).get("workpaper_sections") or []
    return [(s["ref"], s["title"]) for s in recorded]


def sign(
    folder: Path,
    *,
    sections: list[str],
    role: str,
    name: str,
    note: str = "",
    on: dt.date | None = None,
) -> list[SignOff]:
    """Record ``role``'s sign-off of ``sections`` (refs, or ``["all"]``) by ``name``.

    Raises :class:`SignOffError` naming every reason it cannot be recorded. Writes the
    record, then the workbook's Sign-off sheet and the manifest's hash of the workbook.
    """
    folder = Path(folder)
    known = sections_of(folder)
    refs = [ref for ref, _ in known] if sections == ["all"] else sections
    role = role.strip().lower()
    name = " ".join(name.split())
    problems = []
    if role not in ROLES:
        problems.append(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if not name:
        problems.append("a sign-off needs the signer's name")
    unknown = [ref for ref in refs if ref not in dict(known)]
    if unknown:
        problems.append(f"no workpaper section {unknown} (sections: {[r for r, _ in known]})")
    signed_on = on or dt.date.today()
    if signed_on > dt.date.today():
        problems.append(f"date {signed_on} is in the future")
    existing = read_signoffs(folder)
    current = latest(existing)
    if role == "reviewer":
        for ref in refs:
            prepared = current.get((ref, "preparer"))
            if prepared is None:
                problems.append(
                    f"{ref}: not yet signed by its preparer; review follows preparation"
                )
            elif prepared.name.casefold() == name.casefold():
                problems.append(f"{ref}: prepared by {prepared.name}, who cannot also review it")
            elif signed_on < prepared.date:
                problems.append(
                    f"{ref}: a review dated {signed_on} cannot precede its preparation "
                    f"({prepared.date})"
                )
    if problems:
        raise SignOffError("sign-off not recorded:\n" + "\n".join(f"  - {p}" for p in problems))
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    made = [SignOff(ref, role, name, signed_on, note.strip(), stamp) for ref in refs]
    _write(folder, [*existing, *made])
    _publish(folder, known, [*existing, *made], made)
    return made


def _write(folder: Path, signoffs: list[SignOff]) -> None:
    records = [{**dataclasses.asdict(s), "date": str(s.date)} for s in signoffs]
    path = folder / SIGNOFF_FILE
    temporary = path.with_name(f".{SIGNOFF_FILE}.{os.getpid()}")
    temporary.write_text(
        "# Sign-offs of this close (arlib signoff); the last per section and role is in force.\n"
        + yaml.safe_dump(records, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    temporary.replace(path)


def _publish(folder: Path, sections, signoffs: list[SignOff], made: list[SignOff]) -> None:
    """Copy the sign-offs into the workbook and keep the manifest's hashes true."""
    from arlib.close import AuditLog
    from arlib.load import sha256_of
    from arlib.workpapers import replace_signoff_table

    workbook = folder / "workpapers.xlsx"
    if workbook.is_file():
        table = signoff_table(signoffs, sections)
        replace_signoff_table(workbook, [list(TABLE_COLUMNS), *table.rows()])
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if workbook.is_file() and "output_sha256" in manifest:
        manifest["output_sha256"]["workpapers.xlsx"] = sha256_of(workbook)
    manifest["signoff"] = [{**dataclasses.asdict(s), "date": str(s.date)} for s in signoffs]
    manifest_path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8"
    )
    AuditLog(folder / "audit_log.jsonl").step(
        "signoff",
        parameters={
            "role": made[0].role,
            "name": made[0].name,
            "sections": [s.section for s in made],
        },
        outputs=[workbook] if workbook.is_file() else [],
    )
