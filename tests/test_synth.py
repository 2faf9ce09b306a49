"""Tests for the sample-data generator: reproducibility, conservation of the truth, parquet."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlib import erp
from arlib.synth import (
    EXPECTED,
    SCENARIOS,
    WIDE_SCENARIOS,
    _count_subsets,
    _double_digit,
    _drop_digit,
    _number_slips,
    generate,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
PERIODS = ("2026-09", "2026-10")


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _money(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all(",", "").str.to_decimal(scale=2)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, erp=True)


# The customer follow-up of the sample (replies to statements, the collectors' contact
# log) is a scripted scenario written by hand on the generated ledgers: it names their
# customers and invoices, so it is not generated, and changes only when they do.
HAND_WRITTEN = {
    Path("2026-09/replies.csv"),
    Path("2026-09/contacts.csv"),
    Path("2026-10/contacts.csv"),
}


def test_regeneration_reproduces_committed_sample_byte_for_byte(regenerated):
    out, _ = regenerated
    committed = sorted(
        p.relative_to(SAMPLE)
        for p in SAMPLE.rglob("*")
        if p.is_file() and p.relative_to(SAMPLE) not in HAND_WRITTEN
    )
    produced = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert committed, "data/sample is empty: run generate(Path('data/sample'))"
    assert produced == committed
    for rel in committed:
        if rel.suffix == ".db":  # SQLite's bytes depend on its version: compared as SQL
            assert erp.dump(out / rel) == erp.dump(SAMPLE / rel), rel
            continue
        assert (out / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


def test_csv_shape_and_formats():
    bank = _read(SAMPLE / "2026-10" / "bank_statement.csv")
    assert bank.columns == [
        "流水号",
        "交易日期",
        "金额",
        "币种",
        "对方户名",
        "对方账号",
        "摘要",
        "银行流水号",
    ]
    assert bank["交易日期"].str.contains(r"^\d{4}/\d{2}/\d{2}$").all()
    assert bank["金额"].str.contains(r"^\d{1,3}(,\d{3})*\.\d{2}$").all()
    assert bank["流水号"].n_unique() == bank.height
    inv = _read(SAMPLE / "2026-10" / "invoices.csv")
    assert inv["invoice_id"].str.contains(r"^INV\d{7}$").all()
    assert inv["invoice_date"].str.starts_with("2026-10-").all()
    cust = _read(SAMPLE / "customers.csv")
    assert cust["customer_id"].str.contains(r"^C\d{6}$").all()
    assert cust["name"].n_unique() == cust.height
    fx = _read(SAMPLE / "2026-10" / "fx_rates.csv")
    assert fx.height == 2 * (31 + 10)
    raw = (SAMPLE / "2026-10" / "truth.csv").read_bytes()
    assert b"\r\n" not in raw


def test_truth_conserves_and_references_known_invoices():
    invoices = pl.concat(
        [_read(SAMPLE / p / "invoices.csv").with_columns(period=pl.lit(p)) for p in PERIODS]
    ).with_columns(amount=_money("amount"))
    applied_total = []
    for k, period in enumerate(PERIODS):
        truth = _read(SAMPLE / period / "truth.csv").with_columns(
            _money("applied_amount"), _money("receipt_amount")
        )
        bank = _read(SAMPLE / period / "bank_statement.csv").select(
            receipt_id="流水号", amount=_money("金额")
        )
        # per receipt: cash consumed + unapplied = receipt amount; write-offs consume none
        per_receipt = truth.group_by("receipt_id").agg(pl.col("receipt_amount").sum())
        joined = bank.join(per_receipt, on="receipt_id", how="full", coalesce=True)
        assert joined.height == bank.height
        assert (joined["amount"] == joined["receipt_amount"]).all()
        writeoffs = truth.filter(pl.col("kind").is_in(["bank_charge", "discount", "fx_difference"]))
        assert (writeoffs["receipt_amount"] == 0).all()
        assert truth.filter(pl.col("kind") == "unapplied")["invoice_id"].is_null().all()
        # every referenced invoice exists in this or an earlier period
        known = invoices.filter(pl.col("period").is_in(PERIODS[: k + 1]))
        refs = truth["invoice_id"].drop_nulls().unique()
        assert refs.is_in(known["invoice_id"].implode()).all()
        assert set(truth["scenario"].unique()) == set(SCENARIOS)
        counts = truth.group_by("scenario").agg(pl.col("receipt_id").n_unique())
        assert counts["receipt_id"].min() >= 5
        applied_total.append(truth.drop_nulls("invoice_id"))
    applied = pl.concat(applied_total).group_by("invoice_id").agg(pl.col("applied_amount").sum())
    check = applied.join(invoices, on="invoice_id")
    assert check.height == applied.height
    assert (check["applied_amount"] <= check["amount"]).all()
    # write-off scenarios clear their invoice exactly
    full = pl.concat(applied_total).filter(
        pl.col("scenario").is_in(["bank_charge", "discount", "fx", "credit_note", "combined"])
    )
    sums = (
        full.group_by("invoice_id")
        .agg(pl.col("applied_amount").sum())
        .join(invoices, on="invoice_id")
    )
    assert (sums["applied_amount"] == sums["amount"]).all()


def test_paid_share_and_carry_forward(regenerated):
    _, summary = regenerated
    for period in PERIODS:
        stats = summary["periods"][period]
        assert 0.55 <= stats["paid_invoices_in_period"] / stats["invoices"] <= 0.70
    assert summary["periods"]["2026-10"]["carried_invoices_paid"] > 0


def test_paid_share_one_pays_every_paying_customers_invoice_in_the_period(tmp_path):
    summary = generate(
        tmp_path, periods=("2026-10",), n_customers=50, invoices_per_period=400, paid_share=1.0
    )
    stats = summary["periods"]["2026-10"]
    # everything but the chronic non-payers' invoices is paid within the month
    assert stats["paid_invoices_in_period"] / stats["invoices"] >= 0.85
    default = generate(
        tmp_path / "d", periods=("2026-10",), n_customers=50, invoices_per_period=400
    )
    assert (
        default["periods"]["2026-10"]["paid_invoices_in_period"] < stats["paid_invoices_in_period"]
    )


def test_small_parquet_generation(tmp_path):
    summary = generate(tmp_path, n_customers=50, invoices_per_period=300, fmt="parquet")
    assert summary["periods"]["2026-10"]["invoices"] == 300
    inv = pl.read_parquet(tmp_path / "2026-10" / "invoices.parquet")
    assert inv.schema["amount"] == pl.Decimal(38, 2)
    assert inv.schema["invoice_date"] == pl.Date
    bank = pl.read_parquet(tmp_path / "2026-10" / "bank_statement.parquet")
    assert bank.schema["金额"] == pl.Decimal(38, 2)
    truth = pl.read_parquet(tmp_path / "2026-10" / "truth.parquet")
    per_receipt = truth.group_by("receipt_id").agg(pl.col("receipt_amount").sum())
    joined = bank.join(per_receipt, left_on="流水号", right_on="receipt_id")
    assert joined.height == bank.height
    assert (joined["金额"] == joined["receipt_amount"]).all()
    assert pl.read_parquet(tmp_path / "customers.parquet").height == 50
    again = tmp_path / "again"
    generate(again, n_customers=50, invoices_per_period=300, fmt="parquet")
    for p in tmp_path.glob("2026-*/*.parquet"):
        assert p.read_bytes() == (again / p.relative_to(tmp_path)).read_bytes(), p


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, fmt="xlsx")
    with pytest.raises(ValueError):
        generate(tmp_path, periods=("2026-10", "2026-09"))
    with pytest.raises(ValueError):
        generate(tmp_path, paid_share=1.5)
    with pytest.raises(ValueError):
        generate(tmp_path, world="tall")


def test_dates_are_plausible():
    invoices = pl.concat([_read(SAMPLE / p / "invoices.csv") for p in PERIODS]).select(
        "invoice_id", "customer_id", pl.col("invoice_date").str.to_date()
    )
    terms = _read(SAMPLE / "customers.csv").select("customer_id", "discount_terms")
    for period in PERIODS:
        bank = _read(SAMPLE / period / "bank_statement.csv").select(
            receipt_id="流水号", value_date=pl.col("交易日期").str.to_date("%Y/%m/%d")
        )
        assert (bank["value_date"].dt.strftime("%Y-%m") == period).all()
        truth = _read(SAMPLE / period / "truth.csv").join(bank, on="receipt_id")
        paid = truth.drop_nulls("invoice_id").join(invoices, on="invoice_id")
        assert (paid["value_date"] >= paid["invoice_date"]).all()
        disc = paid.filter(pl.col("kind") == "discount").join(terms, on="customer_id")
        window = disc["discount_terms"].str.extract(r"/(\d+) ").cast(pl.Int64)
        assert ((disc["value_date"] - disc["invoice_date"]).dt.total_days() <= window).all()


def test_balance_forward_customers_pay_on_account_oldest_first():
    """Their receipts name no invoice and the truth applies them oldest-first across periods."""
    bf = _read(SAMPLE / "customers.csv").filter(pl.col("policy") == "balance_forward")
    invoices = (
        pl.concat([_read(SAMPLE / p / "invoices.csv") for p in PERIODS])
        .join(bf.select("customer_id"), on="customer_id", how="semi")
        .with_columns(_money("amount"))
        .sort("invoice_date", "invoice_id")
    )
    open_amt = dict(zip(invoices["invoice_id"], invoices["amount"], strict=True))
    for period in PERIODS:
        truth = _read(SAMPLE / period / "truth.csv").with_columns(_money("applied_amount"))
        own = truth.join(bf.select("customer_id"), on="customer_id", how="semi")
        assert set(own["scenario"].unique()) <= {"balance_forward", "unidentified"}
        rows = truth.filter(pl.col("scenario") == "balance_forward")
        assert set(rows["kind"].unique()) == {"cash"}
        bank = _read(SAMPLE / period / "bank_statement.csv").select(
            receipt_id="流水号",
            value_date=pl.col("交易日期").str.to_date("%Y/%m/%d"),
            amount=_money("金额"),
            memo="摘要",
        )
        receipts = bank.join(
            rows.select("receipt_id", "customer_id", "currency").unique(), on="receipt_id"
        ).sort("value_date", "receipt_id")
        assert receipts.height >= 5
        assert not receipts["memo"].drop_nulls().str.contains(r"\d").any()
        for r in receipts.iter_rows(named=True):
            expected, rest = [], r["amount"]
            for inv in invoices.filter(
                (pl.col("customer_id") == r["customer_id"]) & (pl.col("currency") == r["currency"])
            )["invoice_id"]:
                if rest == 0:
                    break
                take = min(rest, open_amt[inv])
                if take > 0:
                    expected.append((inv, take))
                    open_amt[inv] -= take
                    rest -= take
            assert rest == 0
            got = rows.filter(pl.col("receipt_id") == r["receipt_id"]).sort("invoice_id")
            assert sorted(expected) == got.select("invoice_id", "applied_amount").rows()


def test_installments_mostly_name_their_invoice():
    for period in PERIODS:
        truth = _read(SAMPLE / period / "truth.csv").filter(pl.col("scenario") == "installment")
        memos = truth.join(
            _read(SAMPLE / period / "bank_statement.csv").select(receipt_id="流水号", memo="摘要"),
            on="receipt_id",
        ).with_columns(n=pl.col("invoice_id").str.slice(3).str.strip_chars_start("0"))
        named = memos.filter(
            pl.col("memo").fill_null("").str.extract_all(r"\d+").list.contains(pl.col("n"))
            | pl.col("memo").fill_null("").str.contains(pl.col("invoice_id").str.slice(3))
        )
        assert abs(named.height / memos.height - 0.8) < 0.01


# ------------------------------------------------------------------ expected: what the data says


def _truth_and_bank(folder: Path, period: str) -> pl.DataFrame:
    truth = _read(folder / period / "truth.csv")
    bank = _read(folder / period / "bank_statement.csv").select(
        receipt_id="流水号",
        amount=_money("金额"),
        payer="对方户名",
        account="对方账号",
        memo="摘要",
    )
    return truth.join(bank, on="receipt_id", how="left")


def test_expected_is_one_verdict_per_receipt_and_unapplied_without_invoices():
    for period in PERIODS:
        truth = _read(SAMPLE / period / "truth.csv")
        assert set(truth["expected"].unique()) <= set(EXPECTED)
        per = truth.group_by("receipt_id").agg(
            pl.col("expected").unique().sort().alias("e"),
            pl.col("invoice_id").is_not_null().any().alias("pays"),
            pl.col("scenario").first(),
        )
        # one verdict a receipt, except a lump sum whose memo names some of its invoices
        mixed = per.filter(pl.col("e").list.len() > 1)
        assert set(mixed["scenario"]) <= {"combined"}
        assert (mixed["e"].list.join(",") == "apply,hold").all()
        unapplied = per.filter(pl.col("e").list.contains("unapplied"))
        assert not unapplied["pays"].any()
        assert per.filter(~pl.col("pays"))["e"].list.join(",").eq("unapplied").all()


def test_expected_per_scenario_on_the_sample():
    truth = pl.concat([_truth_and_bank(SAMPLE, p) for p in PERIODS])
    per = truth.group_by("receipt_id").agg(pl.col("scenario").first(), pl.col("expected").first())
    verdicts = per.group_by("scenario").agg(pl.col("expected").unique().sort())
    got = dict(zip(verdicts["scenario"], verdicts["expected"].to_list(), strict=True))
    for scenario in ("exact_ref", "parent_payer", "balance_forward", "overpayment", "fx"):
        assert got[scenario] == ["apply"], scenario
    for scenario in ("decimal_shift", "transposition", "unidentified"):
        assert got[scenario] == ["unapplied"], scenario
    assert got["duplicate"] == ["apply", "unapplied"]
    # the part payments with a generic memo: some cannot be placed
    assert got["partial"] == ["apply", "hold"]
    partial = truth.filter(pl.col("scenario") == "partial")
    number = pl.col("invoice_id").str.slice(3).str.strip_chars_start("0")
    held = partial.filter(pl.col("expected") == "hold")
    assert held.height >= 10
    assert not held["memo"].fill_null("").str.contains(r"\d").any()
    named = partial.filter(
        pl.col("memo")
        .fill_null("")
        .str.extract_all(r"\d+")
        .list.eval(pl.element().str.strip_chars_start("0"))
        .list.contains(number)
    )
    assert (named["expected"] == "apply").all()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=0, max_size=9),
    st.integers(1, 200),
    st.integers(1, 4),
    st.integers(0, 3),
)
def test_count_subsets_agrees_with_brute_force(values, target, lo, extra):
    hi = lo + extra
    brute = sum(
        1
        for k in range(lo, hi + 1)
        for combo in combinations(range(len(values)), k)
        if sum(values[i] for i in combo) == target
    )
    assert _count_subsets(values, target, lo, hi) == min(brute, 2)


def test_keying_slips():
    slips = _number_slips(12345)
    assert {12354, 12346, 12344, 12335} <= set(slips)
    assert 21345 in slips  # 0012345 -> 0021345: the number has 7 digits
    assert 54321 not in slips and 12345 not in slips and all(x > 0 for x in slips)
    rng = np.random.default_rng(1)
    for cents in (123456, 100000, 5000000, 1234):
        s = str(cents)
        dropped, doubled = str(_drop_digit(cents, rng)), str(_double_digit(cents, rng))
        # one digit left out (never the last: that is a truncation), or keyed twice
        assert dropped in {s[:i] + s[i + 1 :] for i in range(len(s) - 1)}
        assert doubled in {s[: i + 1] + s[i] + s[i + 1 :] for i in range(len(s))}


# ------------------------------------------------------------------ the wide world


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("wide")
    return out, generate(out, n_customers=400, invoices_per_period=2500, world="wide")


def test_wide_world_has_every_scenario_and_conserves(wide):
    out, summary = wide
    assert summary["world"] == "wide"
    for period in PERIODS:
        truth = _truth_and_bank(out, period).with_columns(_money("receipt_amount"))
        assert set(truth["scenario"].unique()) == set(WIDE_SCENARIOS)
        counts = truth.group_by("scenario").agg(pl.col("receipt_id").n_unique())
        assert counts["receipt_id"].min() >= 5
        sums = truth.group_by("receipt_id").agg(
            pl.col("receipt_amount").sum(), pl.col("amount").first()
        )
        assert (sums["receipt_amount"] == sums["amount"]).all()


def test_wide_customers_share_trade_names_across_cities(wide):
    out, _ = wide
    cust = _read(out / "customers.csv")
    assert cust["name"].n_unique() == cust.height
    short = cust.select("name", short=pl.col("aliases").str.split("|").list.first()).filter(
        pl.col("name").str.contains(r"[\p{Han}]")
    )
    shared = short.group_by("short").agg(pl.col("name")).filter(pl.col("name").list.len() >= 3)
    assert shared.height >= 5
    assert short["name"].str.contains("（").any()  # 华润五金贸易（深圳）有限公司 style


def test_wide_scenarios_look_like_their_description(wide):
    out, _ = wide
    cust = _read(out / "customers.csv")
    invoices = pl.concat([_read(out / p / "invoices.csv") for p in PERIODS]).with_columns(
        _money("amount"), pl.col("invoice_date").str.to_date()
    )
    accounts = set(cust["payer_accounts"].str.split("|").explode().drop_nulls())
    truth = pl.concat([_truth_and_bank(out, p) for p in PERIODS]).with_columns(
        _money("applied_amount")
    )
    by = {s: truth.filter(pl.col("scenario") == s) for s in WIDE_SCENARIOS}
    third = by["third_party"]
    assert not third["payer"].is_in(cust["name"].implode()).any()
    assert not third["account"].is_in(list(accounts)).any()
    assert third.select(pl.col("memo").str.contains(pl.col("invoice_id"))).to_series().all()
    assert (third["expected"] == "apply").all()
    empty = by["empty_payer"].join(cust.select("customer_id", "name", "aliases"), on="customer_id")
    assert empty["payer"].is_null().all() and empty["account"].is_null().all()
    short = pl.col("aliases").str.split("|").list.first()
    named = (
        pl.col("memo").str.contains(pl.col("name"), literal=True)
        | pl.col("memo")
        .str.to_uppercase()
        .str.contains(pl.col("name").str.to_uppercase(), literal=True)
        | pl.col("memo").str.contains(short, literal=True)
    )
    assert empty.select(named).to_series().all()
    old = by["old_invoice"].join(invoices, on="invoice_id")
    age = (pl.date(2026, 9, 1) - pl.col("invoice_date")).dt.total_days()
    assert old.select(age.is_between(200, 400)).to_series().all()
    assert not old["memo"].fill_null("").str.contains(r"\d").any()
    slip = by["mistyped_ref"].join(
        invoices.select(pl.col("invoice_id").alias("related_invoice_id"), other="amount"),
        on="related_invoice_id",
    )
    assert (slip["other"] != slip["applied_amount"]).all()
    near = [
        int(b[3:]) in _number_slips(int(a[3:]))
        for a, b in zip(slip["invoice_id"], slip["related_invoice_id"], strict=True)
    ]
    assert sum(near) >= 0.9 * len(near)
    for scenario in ("truncation", "dropped_digit", "doubled_digit"):
        rows = by[scenario]
        assert (rows["expected"] == "unapplied").all() and rows["invoice_id"].is_null().all()
        assert rows["related_invoice_id"].is_not_null().all()
