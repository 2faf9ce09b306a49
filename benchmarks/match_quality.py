"""Score the matching engine against the synthetic generator's ground truth; a gate.

Usage::

    .venv/bin/python benchmarks/match_quality.py                 # the sample settings
    .venv/bin/python benchmarks/match_quality.py --seed 7 --invoices 20000 --customers 2000
    .venv/bin/python benchmarks/match_quality.py --world wide --seed 7 --invoices 20000 \
        --customers 2000                                          # the wide world
    .venv/bin/python benchmarks/match_quality.py --data data/sample   # score files on disk
    .venv/bin/python benchmarks/match_quality.py --also-default  # sample settings + the flags

Each run generates two consecutive periods with :func:`arlib.synth.generate` into a temporary
folder (or reads them from ``--data``), loads them with the arlib loaders (params-style
config, the sample's bank-header mapping, validation included), matches the first period,
carries its open invoices and unapplied cash forward through ``open_items.parquet`` exactly
as a close does (:func:`arlib.carry.build_open_items` / ``inputs.opening``), then matches
the second.

The truth's ``expected`` says, per receipt, what a careful clerk could do with the data
alone (``arlib.synth`` docstring): ``apply`` (the truth's allocation is determinable),
``hold`` (the truth says what it really pays, but nothing in the data does: it must stay
unapplied or be a suggestion) or ``unapplied`` (it pays no invoice). Automatic allocations
(every rule except ``manual``) are compared with ``truth.csv``:

* precision: an allocation row is right when the truth has the same (receipt_id,
  invoice_id, kind) with the same applied_amount and the receipt is not ``hold`` (a
  guess that happens to be right is a hold violation, not a right allocation);
  row-level and amount-weighted (amounts in the base currency at the period's mean rate).
  Credit-note rows (whose receipt_id is the credit note) are right when the truth nets
  that amount against that invoice.
* recall: a receipt is applicable when its truth is ``apply``; it is applied exactly when
  the set of (invoice_id, kind, applied_amount) of its automatic allocations (plus the
  credit notes netted against its truth invoices) equals the truth's.
* per scenario, the share of receipts handled right: ``apply`` applied exactly, ``hold``
  and ``unapplied`` left without automatic allocations (suggestions are fine).
* customer hit rate (resolved payer = truth customer; for ``parent_payer`` the parent that
  actually paid also counts) and invoice hit rate (right invoices, amounts ignored).

Targets (on both periods together): precision by amount >= 99.9 %, recall >= 98.5 %,
every scenario >= 95 %. The exit code is 1 when any dataset misses a target, else 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from common import pct, period_config, read_truth, table, verdict

from arlib import carry
from arlib.load import load_period
from arlib.match import MatchResult, match

PRECISION_TARGET = 99.9  # % of the automatic allocations' amount that is right
RECALL_TARGET = 98.5  # % of applicable receipts applied exactly
SCENARIO_TARGET = 95.0  # % of each scenario's receipts handled right
PERIODS = ("2026-09", "2026-10")
SAMPLE = {"seed": 20261031, "invoices": 2500, "customers": 300}


@dataclass
class PeriodScore:
    label: str
    alloc: pl.DataFrame  # automatic allocation rows + correct flag + truth context
    receipts: pl.DataFrame  # one row per receipt of the period's bank statement
    carried: pl.DataFrame  # receipts carried in from the previous period


# ------------------------------------------------------------------------------ running
def run_periods(data_dir: Path, work: Path, log) -> list[tuple[str, MatchResult, dict]]:
    """Load and match each period in order, carrying open items like a close does."""
    out: list[tuple[str, MatchResult, dict]] = []
    opening: Path | None = None
    for period in PERIODS:
        config = period_config(data_dir, period, "csv", opening=opening, out_dir=work / period)
        loaded = load_period(config)
        errors = loaded.findings.filter(pl.col("severity") == "error")
        if errors.height:
            log(f"  ! {period}: {errors.height} load/validation errors (matching anyway)")
            log(table(errors.head(5)))
        f = loaded.frames
        result = match(
            f["invoices"],
            f["receipts"],
            f["customers"],
            f["credit_notes"],
            f["fx_rates"],
            config.matching,
            base_currency=config.base_currency,
            decisions=f["decisions"] if f["decisions"].height else None,
        )
        out.append((period, result, f))
        items = carry.build_open_items(result.invoices, result.receipts, pl.DataFrame(), period)
        opening = work / period / "open_items.parquet"
        opening.parent.mkdir(parents=True, exist_ok=True)
        carry.write_open_items(items, opening)
        n_inv = items.filter(pl.col("item_type") == "invoice").height
        n_cash = items.filter(pl.col("item_type") == "unapplied_cash").height
        log(
            f"  {period}: {f['invoices'].height:,} invoices, {f['receipts'].height:,} receipts "
            f"matched in {sum(result.stats['seconds'].values()):.2f} s; carries "
            f"{n_inv:,} open invoices and {n_cash:,} unapplied receipts"
        )
    return out


# ------------------------------------------------------------------------------ scoring
def swap_duplicates(truth: pl.DataFrame, allocations: pl.DataFrame) -> pl.DataFrame:
    """Which copy of a duplicated bank line is "the" payment is arbitrary: when the engine
    applied the copy the truth calls the duplicate (its full amount, to the invoice the twin
    pays) and left the twin off that invoice, swap the two receipts' truth rows."""
    dup = truth.filter((pl.col("scenario") == "duplicate") & (pl.col("kind") == "unapplied"))
    orig = truth.filter((pl.col("scenario") == "duplicate") & (pl.col("kind") == "cash"))
    pairs = dup.select(
        pl.col("receipt_id").alias("copy"), pl.col("related_invoice_id").alias("invoice_id")
    ).join(orig.select(pl.col("receipt_id").alias("orig"), "invoice_id"), on="invoice_id")
    used = allocations.select("receipt_id", "invoice_id").unique()
    swap = pairs.join(
        used.rename({"receipt_id": "copy"}), on=["copy", "invoice_id"], how="semi"
    ).join(used.rename({"receipt_id": "orig"}), on=["orig", "invoice_id"], how="anti")
    if swap.height == 0:
        return truth
    mapping = dict(zip(swap["copy"], swap["orig"], strict=True))
    mapping |= dict(zip(swap["orig"], swap["copy"], strict=True))
    return truth.with_columns(pl.col("receipt_id").replace(mapping))


def _rates(frames: dict) -> pl.DataFrame:
    fx = frames["fx_rates"]
    means = fx.group_by("currency").agg(pl.col("rate").cast(pl.Float64).mean().alias("rate"))
    return pl.concat([means, pl.DataFrame({"currency": ["CNY"], "rate": [1.0]})]).unique(
        "currency", keep="first"
    )


def score_period(
    period: str, result: MatchResult, frames: dict, truth: pl.DataFrame, all_truth: pl.DataFrame
) -> PeriodScore:
    rates = _rates(frames)
    auto = result.allocations.filter(pl.col("rule") != "manual")
    # -- precision, row level. Credit-note rows are keyed by the credit note's id.
    t_rows = all_truth.filter(pl.col("invoice_id").is_not_null()).select(
        "receipt_id",
        "invoice_id",
        "kind",
        pl.col("applied_amount").alias("t_amount"),
        pl.col("scenario").alias("t_scenario"),
        pl.col("expected").alias("t_expected"),
    )
    t_cn = (
        all_truth.filter(pl.col("kind") == "credit_note")
        .group_by("invoice_id", "applied_amount")
        .agg(pl.len().alias("_n"))
        .with_columns(pl.lit(True).alias("cn_ok"))
        .drop("_n")
    )
    is_cn = pl.col("rule") == "credit_note"
    alloc = (
        auto.join(
            t_rows.unique(["receipt_id", "invoice_id", "kind"]),
            on=["receipt_id", "invoice_id", "kind"],
            how="left",
        )
        .join(t_cn, on=["invoice_id", "applied_amount"], how="left")
        .with_columns(
            pl.when(is_cn)
            .then(pl.col("cn_ok").fill_null(False))
            .otherwise(
                (
                    (pl.col("t_amount") == pl.col("applied_amount"))
                    & (pl.col("t_expected") == "apply")
                ).fill_null(False)
            )
            .alias("correct")
        )
        .join(rates.rename({"rate": "_rate"}), on="currency", how="left")
        .with_columns(
            (pl.col("applied_amount").cast(pl.Float64) * pl.col("_rate").fill_null(1.0)).alias(
                "base_amount"
            )
        )
        .drop("cn_ok", "_rate")
    )
    # truth scenario / customer per receipt (first row); expected: apply when any row
    # applies (a lump sum naming some of its invoices applies those and holds the rest)
    t_first = all_truth.group_by("receipt_id", maintain_order=True).agg(
        pl.col("scenario").first(),
        pl.col("customer_id").first().alias("t_customer"),
        pl.when((pl.col("expected") == "apply").any())
        .then(pl.lit("apply"))
        .otherwise(pl.col("expected").first())
        .alias("expected"),
        (pl.col("expected") == "hold").any().alias("_holds"),
    )
    alloc = (
        alloc.join(
            t_first.select("receipt_id", "scenario", "expected", "_holds"),
            on="receipt_id",
            how="left",
        )
        .with_columns(
            (~is_cn & ~pl.col("correct") & pl.col("_holds"))
            .fill_null(False)
            .alias("hold_violation")
        )
        .drop("_holds", "t_expected")
    )
    t_first = t_first.drop("_holds")

    # -- recall, per receipt of this period's bank statement
    key = pl.concat_str(
        [pl.col("invoice_id"), pl.col("kind"), pl.col("applied_amount").cast(pl.String)],
        separator="/",
    )
    t_sets = (
        truth.filter(pl.col("invoice_id").is_not_null() & (pl.col("expected") == "apply"))
        .group_by("receipt_id")
        .agg(
            key.unique().sort().alias("t_set"),
            pl.col("invoice_id").unique().sort().alias("t_inv"),
            pl.col("invoice_id").filter(pl.col("kind") == "credit_note").alias("t_cn_inv"),
        )
    )
    own = alloc.filter(~is_cn)
    e_own = own.group_by("receipt_id").agg(
        key.alias("e_keys"),
        pl.col("invoice_id").unique().sort().alias("e_inv"),
        pl.col("correct").not_().any().alias("has_wrong"),
        pl.col("rule").unique().sort().str.join("+").alias("rules"),
        pl.col("hold_violation").any().alias("hold_rows"),
    )
    # credit notes netted against a receipt's truth credit-note invoices belong to its set
    cn_rows = alloc.filter(is_cn).select("invoice_id", key.alias("cn_key"))
    e_cn = (
        t_sets.select("receipt_id", "t_cn_inv")
        .explode("t_cn_inv")
        .drop_nulls("t_cn_inv")
        .join(cn_rows, left_on="t_cn_inv", right_on="invoice_id")
        .group_by("receipt_id")
        .agg(pl.col("cn_key").alias("cn_keys"))
    )
    sugg = result.suggestions.filter(pl.col("rank") == 1).select(
        "receipt_id", pl.col("invoice_ids").alias("top_suggestion"), pl.lit(True).alias("sugg")
    )
    customers = frames["customers"]
    parent = pl.col("parent_id") if "parent_id" in customers.columns else pl.lit(None, pl.String)
    parents = customers.select("customer_id", parent.alias("parent_id"))
    rec = (
        result.receipts.filter(pl.col("origin") == "period")
        .select(
            "receipt_id",
            "amount",
            "currency",
            "payer_name",
            "memo",
            pl.col("customer_id").alias("e_customer"),
            "payer_method",
            "status",
        )
        .join(t_first, on="receipt_id", how="left")
        .join(t_sets, on="receipt_id", how="left")
        .join(e_own, on="receipt_id", how="left")
        .join(e_cn, on="receipt_id", how="left")
        .join(sugg, on="receipt_id", how="left")
        .join(parents.rename({"customer_id": "t_customer"}), on="t_customer", how="left")
        .with_columns(
            pl.concat_list(
                pl.col("e_keys").fill_null(pl.lit([], pl.List(pl.String))),
                pl.col("cn_keys").fill_null(pl.lit([], pl.List(pl.String))),
            )
            .list.unique()
            .list.sort()
            .alias("e_set"),
            pl.col("t_set").is_not_null().alias("applicable"),
            pl.col("e_keys").is_not_null().alias("allocated"),
            pl.col("has_wrong").fill_null(False),
            pl.col("sugg").fill_null(False),
        )
        .with_columns(
            (
                pl.when(pl.col("applicable"))
                .then((pl.col("e_set") == pl.col("t_set")).fill_null(False))
                .otherwise(~pl.col("allocated"))
            ).alias("ok"),
            pl.col("hold_rows").fill_null(False).alias("hold_violation"),
        )
        .with_columns(
            (pl.col("applicable") & (pl.col("e_set") == pl.col("t_set")).fill_null(False)).alias(
                "exact"
            ),
            (pl.col("applicable") & (pl.col("e_inv") == pl.col("t_inv")).fill_null(False)).alias(
                "invoice_hit"
            ),
            (
                (pl.col("e_customer") == pl.col("t_customer"))
                | (
                    (pl.col("scenario") == "parent_payer")
                    & (pl.col("e_customer") == pl.col("parent_id"))
                )
            )
            .fill_null(False)
            .alias("customer_hit"),
        )
    )
    carried = (
        result.receipts.filter(pl.col("origin") == "opening")
        .select("receipt_id", "amount", "status")
        .join(t_first.select("receipt_id", "scenario"), on="receipt_id", how="left")
        .join(e_own, on="receipt_id", how="left")
    )
    return PeriodScore(period, alloc, rec, carried)


# ------------------------------------------------------------------------------ reporting
def headline(s: PeriodScore) -> dict:
    a, r = s.alloc, s.receipts
    app = r.filter(pl.col("applicable"))
    known = r.filter(pl.col("t_customer").is_not_null())
    return {
        "allocations": a.height,
        "correct": int(a["correct"].sum()),
        "precision_rows": pct(a["correct"].sum(), a.height),
        "precision_amount": pct(
            a.filter(pl.col("correct"))["base_amount"].sum(), a["base_amount"].sum()
        ),
        "receipts": r.height,
        "applicable": app.height,
        "applied_exactly": int(app["exact"].sum()),
        "recall": pct(app["exact"].sum(), app.height),
        "hold": r.filter(pl.col("expected") == "hold").height,
        "hold_violations": int(r["hold_violation"].sum()),
        "customer_hit": pct(app["customer_hit"].sum(), app.height),
        "customer_hit_all": pct(known["customer_hit"].sum(), known.height),
        "invoice_hit": pct(app["invoice_hit"].sum(), app.height),
    }


def print_headline(h: dict, label: str, log) -> None:
    log(f"\n== {label}")
    log(
        f"  precision (rows)    {h['precision_rows']:7.3f} %  ({h['correct']:,} of "
        f"{h['allocations']:,} automatic allocation rows right)   target >= "
        f"{PRECISION_TARGET} %  {verdict(h['precision_rows'], PRECISION_TARGET)}"
    )
    log(
        f"  precision (amount)  {h['precision_amount']:7.3f} %  (base-currency weighted)"
        f"{' ' * 31}target >= {PRECISION_TARGET} %  "
        f"{verdict(h['precision_amount'], PRECISION_TARGET)}"
    )
    log(
        f"  recall              {h['recall']:7.3f} %  ({h['applied_exactly']:,} of "
        f"{h['applicable']:,} applicable receipts applied exactly; {h['receipts']:,} receipts)"
        f"   target >= {RECALL_TARGET} %  {verdict(h['recall'], RECALL_TARGET)}"
    )
    log(
        f"  hold violations     {h['hold_violations']:7,}    (of {h['hold']:,} receipts the "
        "data cannot place, applied automatically: counted wrong in precision)"
    )
    log(
        f"  customer hit rate   {h['customer_hit']:7.3f} %  (applicable receipts; "
        f"{h['customer_hit_all']:.3f} % of all receipts with a known customer)"
    )
    log(f"  invoice hit rate    {h['invoice_hit']:7.3f} %  (right invoices, amounts ignored)")


def per_rule(alloc: pl.DataFrame) -> pl.DataFrame:
    return (
        alloc.group_by("rule", "kind")
        .agg(
            pl.len().alias("allocations"),
            pl.col("correct").sum().alias("correct"),
            (100 * pl.col("correct").mean()).round(3).alias("precision_%"),
            pl.col("receipt_id").n_unique().alias("receipts"),
        )
        .sort("rule", "kind")
    )


def per_scenario(rec: pl.DataFrame, alloc: pl.DataFrame) -> pl.DataFrame:
    """Per scenario: receipts by ``expected``, what the engine did, the share handled right."""
    wrong_rows = alloc.filter(~pl.col("correct")).group_by("scenario").len("wrong_rows")
    exp = pl.col("expected")
    return (
        rec.with_columns(pl.col("scenario").fill_null("(no truth)"))
        .group_by("scenario")
        .agg(
            pl.len().alias("receipts"),
            (exp == "apply").sum().alias("apply"),
            (exp == "hold").sum().alias("hold"),
            (exp == "unapplied").sum().alias("unapplied"),
            pl.col("exact").sum().alias("applied_exactly"),
            (pl.col("applicable") & ~pl.col("exact") & pl.col("allocated"))
            .sum()
            .alias("not_exact"),
            (pl.col("applicable") & ~pl.col("allocated")).sum().alias("missed"),
            pl.col("hold_violation").sum().alias("hold_viol"),
            ((exp == "unapplied") & pl.col("allocated")).sum().alias("unapplied_viol"),
            (~pl.col("allocated") & pl.col("sugg")).sum().alias("suggested"),
            (100 * pl.col("customer_hit").mean()).round(2).alias("customer_%"),
            pl.col("ok").sum().alias("ok"),
        )
        .join(wrong_rows, on="scenario", how="left")
        .with_columns(
            (100 * pl.col("ok") / pl.col("receipts")).round(2).alias("score_%"),
            pl.col("wrong_rows").fill_null(0),
        )
        .with_columns(
            pl.when(pl.col("score_%") >= SCENARIO_TARGET)
            .then(pl.lit("PASS"))
            .otherwise(pl.lit("FAIL"))
            .alias("verdict")
        )
        .sort("scenario")
    )


def _truth_text(truth: pl.DataFrame) -> pl.DataFrame:
    return truth.group_by("receipt_id").agg(
        pl.format(
            "{} {} {}",
            pl.col("invoice_id").fill_null("-"),
            pl.col("kind"),
            pl.col("applied_amount"),
        )
        .str.join("; ")
        .alias("truth")
    )


def wrong_list(s: PeriodScore, truth: pl.DataFrame, rec: pl.DataFrame, n: int) -> pl.DataFrame:
    info = rec.select("receipt_id", "amount", "payer_name", "memo", "e_customer", "t_customer")
    return (
        s.alloc.filter(~pl.col("correct"))
        .join(info, on="receipt_id", how="left")
        .join(_truth_text(truth), on="receipt_id", how="left")
        .select(
            "receipt_id",
            "scenario",
            "rule",
            pl.format("{} {} {}", "invoice_id", "kind", "applied_amount").alias("engine"),
            "truth",
            "amount",
            pl.col("payer_name").str.slice(0, 28),
            pl.col("memo").str.slice(0, 26),
            pl.format("{}→{}", pl.col("e_customer").fill_null("?"), "t_customer").alias(
                "payer→truth"
            ),
        )
        .head(n)
    )


def missed_list(rec: pl.DataFrame, truth: pl.DataFrame, n: int) -> pl.DataFrame:
    return (
        rec.filter(pl.col("applicable") & ~pl.col("exact") & ~pl.col("has_wrong"))
        .join(_truth_text(truth), on="receipt_id", how="left")
        .select(
            "receipt_id",
            "scenario",
            "status",
            pl.col("e_set").list.join("; ").alias("engine"),
            "truth",
            "amount",
            pl.col("payer_name").str.slice(0, 28),
            pl.col("memo").str.slice(0, 26),
            pl.format("{}({})", pl.col("e_customer").fill_null("?"), "payer_method").alias("payer"),
            pl.col("top_suggestion").str.slice(0, 24),
        )
        .head(n)
    )


def patterns(rec: pl.DataFrame, alloc: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    wrong = (
        alloc.filter(~pl.col("correct"))
        .group_by("scenario", "rule", "kind")
        .agg(pl.len().alias("wrong_rows"), pl.col("receipt_id").first().alias("example"))
        .sort("wrong_rows", "scenario", descending=[True, False])
    )
    missed = (
        rec.filter(pl.col("applicable") & ~pl.col("exact"))
        .with_columns(
            pl.when(~pl.col("allocated"))
            .then(pl.format("not allocated ({})", "status"))
            .when(pl.col("has_wrong"))
            .then(pl.lit("allocated wrongly"))
            .otherwise(pl.lit("allocated, incomplete"))
            .alias("what"),
            pl.col("e_customer").is_null().alias("payer_unresolved"),
        )
        .group_by("scenario", "what", "payer_unresolved")
        .agg(pl.len().alias("receipts"), pl.col("receipt_id").first().alias("example"))
        .sort("receipts", "scenario", descending=[True, False])
    )
    return wrong, missed


# ------------------------------------------------------------------------------ main
def failures(results: dict, scenarios: pl.DataFrame) -> list[str]:
    """The targets a dataset misses (overall figures of both periods), as sentences."""
    h = results["overall"]
    out = []
    if not h["precision_amount"] >= PRECISION_TARGET:
        out.append(f"precision by amount {h['precision_amount']:.3f} % < {PRECISION_TARGET} %")
    if not h["recall"] >= RECALL_TARGET:
        out.append(
            f"recall {h['recall']:.3f} % < {RECALL_TARGET} % ({h['applied_exactly']:,} of "
            f"{h['applicable']:,} applicable receipts applied exactly)"
        )
    for row in scenarios.filter(pl.col("verdict") == "FAIL").iter_rows(named=True):
        out.append(
            f"scenario {row['scenario']} {row['score_%']:.2f} % < {SCENARIO_TARGET} % "
            f"({row['ok']} of {row['receipts']})"
        )
    return out


def _expected(truth: pl.DataFrame) -> pl.DataFrame:
    """A truth written before ``expected`` existed: whatever it names applies."""
    if "expected" in truth.columns:
        return truth
    pays = pl.col("invoice_id").is_not_null().any().over("receipt_id")
    return truth.with_columns(
        pl.when(pays).then(pl.lit("apply")).otherwise(pl.lit("unapplied")).alias("expected")
    )


def evaluate(data: Path, label: str, log, n_list: int = 15) -> dict:
    """Load, match and score the two periods in ``data``; the figures, the per-scenario
    table and the missed targets (``failures``)."""
    with tempfile.TemporaryDirectory(prefix="arlib-mq-") as tmp:
        runs = run_periods(data, Path(tmp) / "out", log)
    truths = {p: swap_duplicates(_expected(read_truth(data, p)), r.allocations) for p, r, _ in runs}
    all_truth = pl.concat(truths.values())
    scores = [score_period(p, r, f, truths[p], all_truth) for p, r, f in runs]
    results: dict = {}
    for s in scores:
        h = headline(s)
        results[s.label] = h
        print_headline(h, f"{label} · period {s.label}", log)
        if s.carried.height:
            c = s.carried
            log(
                f"  carried-in receipts: {c.height:,}; allocated this period: "
                f"{c['rules'].is_not_null().sum():,} (with wrong rows: "
                f"{c['has_wrong'].fill_null(False).sum():,})"
            )
    total = PeriodScore(
        "overall",
        pl.concat([s.alloc for s in scores]),
        pl.concat([s.receipts for s in scores]),
        pl.concat([s.carried for s in scores]),
    )
    h = headline(total)
    results["overall"] = h
    print_headline(h, f"{label} · overall (both periods)", log)

    log(f"\n-- per rule ({label}, both periods)")
    log(table(per_rule(total.alloc)))
    scen = per_scenario(total.receipts, total.alloc)
    log(
        f"\n-- per scenario ({label}, both periods; receipts of each period's bank statement; "
        f"score = handled right, target >= {SCENARIO_TARGET} %)"
    )
    log(table(scen))
    wrong_p, missed_p = patterns(total.receipts, total.alloc)
    log(f"\n-- error patterns: wrong allocation rows by scenario/rule ({label})")
    log(table(wrong_p, 40))
    log(f"\n-- error patterns: missed receipts by scenario/outcome ({label})")
    log(table(missed_p, 40))
    log(f"\n-- first {n_list} wrong allocations, hold violations included ({label})")
    log(table(wrong_list(total, all_truth, total.receipts, n_list), n_list))
    log(f"\n-- first {n_list} missed applicable receipts ({label})")
    log(table(missed_list(total.receipts, all_truth, n_list), n_list))
    results["scenarios"] = scen
    results["failures"] = failures(results, scen)
    results["score"] = total
    return results


def run_dataset(
    label: str, seed: int, invoices: int, customers: int, n_list: int, log, world: str = "default"
) -> dict:
    from arlib.synth import generate

    log(
        f"\n#### dataset {label}: world {world}, seed {seed}, {invoices:,} invoices/period, "
        f"{customers:,} customers"
    )
    with tempfile.TemporaryDirectory(prefix="arlib-mq-") as tmp:
        data = Path(tmp) / "data"
        generate(
            data,
            seed=seed,
            periods=PERIODS,
            n_customers=customers,
            invoices_per_period=invoices,
            fmt="csv",
            world=world,
        )
        return evaluate(data, label, log, n_list)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None, help="generator seed (default 20261031)")
    ap.add_argument("--invoices", type=int, default=None, help="invoices per period (2500)")
    ap.add_argument("--customers", type=int, default=None, help="customers (300)")
    ap.add_argument("--world", choices=("default", "wide"), default=None, help="synth world")
    ap.add_argument("--data", type=Path, default=None, help="score generated files in DIR")
    ap.add_argument(
        "--also-default",
        action="store_true",
        help="with --seed/--invoices/--customers/--world: also run the sample settings first",
    )
    ap.add_argument("--list", type=int, default=15, help="wrong/missed examples to list")
    args = ap.parse_args(argv)

    def log(text: str = "") -> None:
        print(text, flush=True)

    summary = {}
    if args.data is not None:
        log(f"\n#### dataset {args.data}")
        summary[str(args.data)] = evaluate(args.data, str(args.data), log, args.list)
    custom = any(v is not None for v in (args.seed, args.invoices, args.customers, args.world))
    datasets = []
    if args.data is None and (not custom or args.also_default):
        datasets.append(
            ("sample", SAMPLE["seed"], SAMPLE["invoices"], SAMPLE["customers"], "default")
        )
    if custom:
        seed = SAMPLE["seed"] if args.seed is None else args.seed
        inv = SAMPLE["invoices"] if args.invoices is None else args.invoices
        cust = SAMPLE["customers"] if args.customers is None else args.customers
        world = args.world or "default"
        name = f"{world}-seed{seed}-{inv}inv-{cust}cust"
        datasets.append((name, seed, inv, cust, world))
    for label, seed, inv, cust, world in datasets:
        summary[label] = run_dataset(label, seed, inv, cust, args.list, log, world)

    log("\n#### summary")
    for label, per in summary.items():
        h = per["overall"]
        log(
            f"  {label:36s} precision {h['precision_rows']:.3f} % rows / "
            f"{h['precision_amount']:.3f} % amount "
            f"[{verdict(h['precision_amount'], PRECISION_TARGET)}]  "
            f"recall {h['recall']:.3f} % [{verdict(h['recall'], RECALL_TARGET)}]  "
            f"hold violations {h['hold_violations']}  "
            f"scenarios below {SCENARIO_TARGET} %: "
            f"{per['scenarios'].filter(pl.col('verdict') == 'FAIL').height}"
        )
        for f in per["failures"]:
            log(f"    FAIL {f}")
    return 1 if any(per["failures"] for per in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
