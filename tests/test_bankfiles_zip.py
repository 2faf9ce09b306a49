"""Zip containers of bank files: the shared fixture loads like its members read one by one,
and hostile archives (bombs, lying headers, traversal names, corrupt or nested zips) come
back as findings, never exceptions."""

from __future__ import annotations

import io
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arlib.bankfiles import read_statement
from tests.bankfile_writers import write_camt053
from tests.test_bankfiles import _receipts

SHARED_ZIP = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "fixtures"
    / "bank"
    / "camt053"
    / "oca"
    / "test-camt053.zip"
)


def _rules(r) -> set[str]:
    return set(r.findings["rule"])


def _zip(path: Path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _camt(tmp_path: Path, name: str, opening: str, sid: str = "STMT-1") -> bytes:
    f = write_camt053(_receipts(), tmp_path / name, opening=Decimal(opening), statement_id=sid)
    return f.read_bytes()


@pytest.mark.skipif(not SHARED_ZIP.is_file(), reason="shared fixtures folder is absent")
def test_shared_zip_matches_members_read_one_by_one(tmp_path):
    r = read_statement(SHARED_ZIP)
    with zipfile.ZipFile(SHARED_ZIP) as zf:
        names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
        zf.extractall(tmp_path)
    assert len(names) == 2
    singles = [read_statement(tmp_path / n) for n in names]

    assert r.fmt == "camt053"
    assert r.statements.height == sum(s.statements.height for s in singles) == 2
    assert r.receipts.height == sum(s.receipts.height for s in singles)
    assert r.debits.height == sum(s.debits.height for s in singles)
    assert r.receipts.height + r.debits.height == 6
    assert r.statements["file"].to_list() == [f"{SHARED_ZIP}!{n}" for n in names]
    assert set(r.receipts["source_file"]) == {f"{SHARED_ZIP}!{n}" for n in names}
    assert r.receipts["source_file"][0].endswith("test-camt053.zip!test-camt053_02.xml")
    keep = ["value_date", "amount", "currency", "payer_name", "memo", "source_row"]
    both = pl.concat([s.receipts for s in singles])
    assert r.receipts.select(keep).equals(both.select(keep))
    assert r.statements.drop("file").equals(pl.concat([s.statements for s in singles]).drop("file"))
    ids = pl.concat([r.receipts, r.debits])["receipt_id"]
    assert ids.n_unique() == ids.len()
    # each member's own findings survive; the gap control runs across the members
    single_rules = set().union(*(_rules(s) for s in singles))
    assert single_rules <= _rules(r)
    assert "bank_statement_gap" in _rules(r) and "bank_statement_gap" not in single_rules


def test_colliding_receipt_ids_are_prefixed_and_continuity_spans_members(tmp_path):
    a = _camt(tmp_path, "a.xml", "100.00")
    b = _camt(tmp_path, "b.xml", "100.00", "STMT-2")  # same ids; opens 100, a closed 1123.56
    f = _zip(tmp_path / "day.zip", {"b.xml": b, "a.xml": a, "sub/": b""})
    r = read_statement(f)
    ids = r.receipts["receipt_id"].to_list()
    assert len(ids) == 6 and len(set(ids)) == 6
    assert ids[:3] == _receipts()["receipt_id"].to_list()  # first member (a.xml) unchanged
    assert ids[3:] == [f"b-{i}" for i in ids[:3]]  # prefixed only on collision
    assert r.receipts["source_file"][0] == f"{f}!a.xml"
    assert "bank_statement_gap" in _rules(r) and "bank_statement_overlap" in _rules(r)
    assert r.statements["balanced"].to_list() == [True, True]

    # a consecutive, non-overlapping second statement raises nothing
    c = a.replace(b">100.00<", b">1123.56<").replace(b"2026-10", b"2026-11")
    ok = read_statement(_zip(tmp_path / "ok.zip", {"1.xml": a, "2.xml": c}))
    assert not {"bank_statement_gap", "bank_statement_overlap"} & _rules(ok), ok.findings


def test_large_compressible_member_over_cap_is_a_finding(tmp_path):
    a = _camt(tmp_path, "a.xml", "100.00")
    f = _zip(tmp_path / "bomb.zip", {"a.xml": a, "zeros.xml": b"\0" * 5_000_000})
    assert f.stat().st_size < 100_000
    r = read_statement(f, max_bytes=1_000_000)
    hit = r.findings.filter(pl.col("rule") == "bank_zip_member_too_large")
    assert hit.height == 1 and hit["file"][0] == f"{f}!zeros.xml"
    assert r.receipts.height == 3  # the good member is still read


def test_total_uncompressed_size_is_capped(tmp_path):
    f = _zip(tmp_path / "many.zip", {f"{i}.csv": b"a,b\n" * 100_000 for i in range(5)})
    r = read_statement(f, max_bytes=1_000_000)  # each member 400 kB, total 2 MB
    assert (r.findings["rule"] == "bank_zip_member_too_large").sum() == 3


def _lie_about_size(data: bytes, name: bytes, size: int) -> bytes:
    """Patch the declared uncompressed size of ``name`` in local and central headers."""
    out = bytearray(data)
    i = out.find(b"PK\x03\x04")  # local header: size at +22
    while i >= 0:
        if out[i + 30 : i + 30 + len(name)] == name:
            out[i + 22 : i + 26] = struct.pack("<I", size)
        i = out.find(b"PK\x03\x04", i + 4)
    j = out.find(b"PK\x01\x02")  # central header: size at +24, name at +46
    while j >= 0:
        if out[j + 46 : j + 46 + len(name)] == name:
            out[j + 24 : j + 28] = struct.pack("<I", size)
        j = out.find(b"PK\x01\x02", j + 4)
    return bytes(out)


def test_member_lying_about_its_size_is_a_finding(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.csv", b"a,b\n" * 1_000_000)  # 4 MB, declared 100 bytes below
    f = tmp_path / "liar.zip"
    f.write_bytes(_lie_about_size(buf.getvalue(), b"liar.csv", 100))
    r = read_statement(f, max_bytes=1_000_000)
    rules = _rules(r)
    assert rules & {"bank_zip_member_unreadable", "bank_zip_member_too_large"}, r.findings
    assert (r.findings["severity"] == "error").any()
    assert r.receipts.height == 0


def test_corrupt_zip_is_a_finding_naming_the_file(tmp_path):
    good = _zip(tmp_path / "g.zip", {"a.xml": _camt(tmp_path, "a.xml", "1")}).read_bytes()
    for k, data in enumerate([b"PK\x03\x04" + b"\xff" * 200, good[: len(good) // 2]]):
        f = tmp_path / f"corrupt{k}.zip"
        f.write_bytes(data)
        r = read_statement(f)
        hit = r.findings.filter(pl.col("rule") == "bank_zip_corrupt")
        assert hit.height == 1 and hit["file"][0] == str(f)
        assert f.name in hit["message"][0]


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "a/../../evil.xml", "C:/x.xml"])
def test_traversal_names_are_findings(tmp_path, name):
    a = _camt(tmp_path, "a.xml", "100.00")
    f = _zip(tmp_path / "trav.zip", {name: a, "ok.xml": a})
    r = read_statement(f)
    hit = r.findings.filter(pl.col("rule") == "bank_zip_unsafe_name")
    assert hit.height == 1 and hit["value"][0] == name
    assert r.receipts.height == 3  # only ok.xml
    assert not (tmp_path / "evil.xml").exists() and not (tmp_path.parent / "evil.xml").exists()


def test_nested_zip_and_unrecognised_member(tmp_path):
    inner = _zip(tmp_path / "inner.zip", {"a.xml": _camt(tmp_path, "a.xml", "1")}).read_bytes()
    f = _zip(tmp_path / "outer.zip", {"inner.zip": inner, "junk.bin": b"\x00\x01\x02"})
    r = read_statement(f)
    assert {"bank_zip_nested", "bank_format"} <= _rules(r)
    assert r.receipts.height == 0


def test_too_many_members_and_empty_zip(tmp_path, monkeypatch):
    from arlib.bankfiles import archive

    monkeypatch.setattr(archive, "MAX_ZIP_MEMBERS", 3)
    f = _zip(tmp_path / "many.zip", {f"{i}.csv": b"a,b\n1,2\n" for i in range(4)})
    assert "bank_zip_too_many_members" in _rules(read_statement(f))
    empty = read_statement(_zip(tmp_path / "e.zip", {"d/": b""}))  # directories only
    assert "bank_zip_empty" in _rules(empty)
