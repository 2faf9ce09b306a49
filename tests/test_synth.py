"""Tests for the sample-data generator: reproducibility, conservation of the truth, parquet."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from arlib.synth import SCENARIOS, generate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
PERIODS = ("2026-09", "2026-10")


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _money(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all(",", "").str.to_decimal(scale=2)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out)


def test_regeneration_reproduces_committed_sample_byte_for_byte(regenerated):
    out, _ = regenerated
    committed = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file())
    produced = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert committed, "data/sample is empty: run generate(Path('data/sample'))"
    assert produced == committed
    for rel in committed:
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
