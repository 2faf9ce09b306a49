"""The ``arlib`` command line (stable: users and scripts rely on it).

    arlib validate  --params params/2026-10.yaml          exit 0, or 2 with every error listed
    arlib reconcile --params params/2026-10.yaml --out DIR matches, suggestions, exceptions
    arlib close     --period 2026-10 [--params FILE] [--entity E] [--reopen --reason "..."]
    arlib signoff   --period 2026-10 --section AR-1 --role preparer|reviewer --name "..."
    arlib send      --period 2026-10 [--params FILE] [--channel email] [--dry-run]
                    [--confirm MESSAGE_ID --by NAME]      the close's outbox over SMTP, logged
    arlib demo                                            sample data → full closes, offline
    arlib rules     [--params FILE]                       the matching cascade and its settings
    arlib templates                                       the rule templates and presets
    arlib defaults                                        every parameter's default, as YAML
    arlib schema    [--out docs/params.schema.json]       the JSON Schema of params, for editors
    arlib synth     --out DIR [--seed N] [--customers N] [--invoices N] [--format csv|parquet]
                    [--world default|wide]

Errors in the user's data or params are printed plainly (file:row: column: message) and
give exit code 2; a traceback means a bug in arlib.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_DATA = 0, 2
SCHEMA_FILE = "docs/params.schema.json"


def _print_findings(findings, limit: int | None = None) -> tuple[int, int]:
    import polars as pl

    from arlib.findings import quote

    errors = findings.filter(pl.col("severity") == "error").height
    warnings = findings.height - errors
    rows = findings.rows(named=True)
    for row in rows if limit is None else rows[:limit]:
        where = row["file"] + (f":{row['row']}" if row["row"] is not None else "")
        column = f" {row['column']}:" if row["column"] else ""
        # findings already cut values to 200 characters; this bounds any other caller too
        value = f" {quote(row['value'], 300)}" if row["value"] is not None else ""
        print(
            f"{row['severity'].upper():7} {where}:{column}{value} {row['message']} [{row['rule']}]"
        )
    if limit is not None and len(rows) > limit:
        print(f"... and {len(rows) - limit} more")
    return errors, warnings


def cmd_validate(args) -> int:
    from arlib.config import load_config
    from arlib.load import load_period, provenance_frame

    config = load_config(args.params)
    period = load_period(config)
    print(f"Inputs for {config.period} ({config.source}):")
    for row in provenance_frame(period.provenance).iter_rows(named=True):
        total = f"{row['currency']} {row['control_total']}" if row["currency"] else ""
        rows = "" if row["rows"] is None else f"rows={row['rows']}"
        print(f"  {row['input']:13} {row['file']}  {rows}  {total}".rstrip())
    errors, warnings = _print_findings(period.findings)
    print(f"{errors} error(s), {warnings} warning(s)")
    return EXIT_DATA if errors else EXIT_OK


def cmd_reconcile(args) -> int:
    from arlib import findings as fnd
    from arlib.config import load_config
    from arlib.notebook import exceptions_line, receipts_line
    from arlib.pipeline import (
        exceptions_stage,
        load_stage,
        match_stage,
        match_summary,
        write_reconcile_outputs,
    )
    from arlib.safe_output import check_output_folder, check_outputs_apart, staged_output, write_csv

    config = load_config(args.params)
    out = Path(args.out)
    check_output_folder(out)  # before the work, not after it
    check_outputs_apart(out, config.input_files, replace=False)
    state: dict = {}
    period = load_stage(config, state)
    if fnd.has_errors(period.findings):
        _print_findings(period.findings.filter(period.findings["severity"] == "error"), limit=200)
        print("reconcile stopped: fix the errors above (arlib validate lists them all)")
        return EXIT_DATA
    # what the files below need, not the whole review (aging, KPIs, journal: arlib close)
    result = match_stage(config, state)
    raised = exceptions_stage(config, state)
    findings = fnd.concat(period.findings, result.findings, raised.findings)
    # every file is written in a hidden folder first and moved into --out only when all are
    with staged_output(out, replace=False) as build:
        written = write_reconcile_outputs(result, build, findings)
        written.append(write_csv(raised.carried, build / "exceptions.csv"))
    for path in written:
        print(f"wrote {out / path.name}")
    print(f"{receipts_line(match_summary(result))}; {exceptions_line(raised.carried)}")
    return EXIT_OK


def cmd_close(args) -> int:
    from arlib.close import CloseFailed, close_summary, run_close

    if bool(args.reopen) != bool((args.reason or "").strip()):
        print(
            "arlib close: --reopen needs --reason '...' (and --reason goes with --reopen): "
            "a published close is re-closed only with a recorded reason",
            file=sys.stderr,
        )
        return EXIT_DATA
    params = Path(args.params) if args.params else Path("params") / f"{args.period}.yaml"
    overrides = {"entity": args.entity} if args.entity else {}
    try:
        out = run_close(
            params,
            overrides=overrides,
            progress=not args.quiet,
            period=args.period,
            reopen=args.reason if args.reopen else None,
        )
    except CloseFailed as exc:
        print(f"close failed: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(f"close complete: {out}")
    for line in close_summary(out):
        print(f"  {line}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from arlib.close import CloseFailed, close_summary, published_close, run_close
    from arlib.config import load_config

    root = Path(args.root).resolve()
    for period in ("2026-09", "2026-10"):
        params = root / "params" / f"{period}.yaml"
        again = published_close(load_config(params).out_dir) is not None
        reason = "arlib demo: the sample period closed again" if again else None
        try:
            out = run_close(params, progress=not args.quiet, reopen=reason)
        except CloseFailed as exc:
            print(f"close of {period} failed: {exc}", file=sys.stderr)
            return EXIT_DATA
        print(
            f"closed {period}: {out}"
            + (" (the previous close is kept in .history/)" if again else "")
        )
        for line in close_summary(out):
            print(f"  {line}")
    return EXIT_OK


def _period_config(args):
    """The params of ``--period`` (``params/<period>.yaml`` unless ``--params``), or None
    after saying why when the file is another period's."""
    from arlib.config import load_config

    params = Path(args.params) if args.params else Path("params") / f"{args.period}.yaml"
    overrides = {"entity": args.entity} if args.entity else {}
    config = load_config(params, overrides)
    if args.period and config.period != args.period:
        print(f"{params} is the params of {config.period}, not of {args.period}", file=sys.stderr)
        return None
    return config


def cmd_send(args) -> int:
    from arlib.send import SendFailed, confirm, send_outbox

    config = _period_config(args)
    if config is None:
        return EXIT_DATA
    try:
        if args.confirm:
            ids = [i.strip() for part in args.confirm for i in part.split(",") if i.strip()]
            new = confirm(config, ids, args.by or "", args.note)
            print(f"confirmed {len(new)} message(s); {len(ids) - len(new)} were already on record")
            return EXIT_OK
        report = send_outbox(config, channel=args.channel, dry_run=args.dry_run, by=args.by)
    except SendFailed as exc:
        print(f"arlib send: {exc}", file=sys.stderr)
        return EXIT_DATA
    for message_id, recipient in report.planned:
        print(f"{'would send' if args.dry_run else 'to send'} {message_id} to {recipient}")
    for message_id in report.sent:
        print(f"sent {message_id}")
    for message_id, reply in report.failed:
        print(f"FAILED {message_id}: {reply}")
    print(
        f"{len(report.sent)} sent, {len(report.failed)} failed, {len(report.already)} sent "
        f"before, {report.unsendable} not sendable (outbox/index.csv says why)"
        + (f", {len(report.planned)} to send (dry run: nothing sent)" if args.dry_run else "")
    )
    if report.failed:
        print("run arlib send again to retry the failed ones", file=sys.stderr)
        return EXIT_DATA
    return EXIT_OK


def cmd_signoff(args) -> int:
    import datetime as dt

    from arlib.findings import quote
    from arlib.signoff import SignOffError, sign

    config = _period_config(args)
    if config is None:
        return EXIT_DATA
    try:
        on = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"--date {quote(args.date)} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return EXIT_DATA
    sections = [s.strip() for part in args.section for s in part.split(",") if s.strip()]
    try:
        made = sign(
            config.out_dir,
            sections=sections,
            role=args.role,
            name=args.name,
            note=args.note or "",
            on=on,
        )
    except SignOffError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_DATA
    refs = ", ".join(s.section for s in made)
    print(f"signed {refs} of {config.period} as {made[0].role}: {made[0].name}, {made[0].date}")
    return EXIT_OK


def cmd_synth(args) -> int:
    from arlib.synth import generate

    summary = generate(
        Path(args.out),
        seed=args.seed,
        periods=tuple(args.periods.split(",")),
        n_customers=args.customers,
        invoices_per_period=args.invoices,
        fmt=args.format,
        world=args.world,
        erp=args.format == "csv",
    )
    print(summary)
    return EXIT_OK


def cmd_rules(args) -> int:
    from arlib.config import load_section, read_params
    from arlib.match import MatchConfig
    from arlib.match.rules import describe
    from arlib.match.templates import selection_text

    matching = load_section(args.params, "matching") if args.params else MatchConfig()
    written = read_params(Path(args.params))[0].get("matching") if args.params else None
    print(selection_text(matching, written), end="\n")
    print(describe(matching), end="")
    return EXIT_OK


def cmd_templates(args) -> int:
    from arlib.match.templates import catalogue_text

    print(catalogue_text(), end="")
    return EXIT_OK


def cmd_defaults(args) -> int:
    from arlib.config import defaults_yaml

    print(defaults_yaml(), end="")
    return EXIT_OK


def cmd_schema(args) -> int:
    from arlib.config import json_schema_text

    if args.out == "-":
        print(json_schema_text(), end="")
        return EXIT_OK
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json_schema_text(), encoding="utf-8")
    print(f"wrote {out}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arlib", description="AR reconciliation workbench")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="load and check a period's inputs")
    p.add_argument("--params", required=True)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("reconcile", help="match receipts to invoices, no notebooks")
    p.add_argument("--params", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("close", help="run the notebooks for a period into outputs/<period>/")
    p.add_argument("--period")
    p.add_argument("--params")
    p.add_argument("--entity")
    p.add_argument(
        "--reopen",
        action="store_true",
        help="close a published period again (its previous version is kept in .history/)",
    )
    p.add_argument("--reason", help="why the published close is reopened (recorded)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_close)

    p = sub.add_parser("signoff", help="record a preparer's or reviewer's sign-off")
    p.add_argument("--period")
    p.add_argument("--params")
    p.add_argument("--entity")
    p.add_argument(
        "--section",
        action="append",
        required=True,
        help="workpaper section(s): AR-1, AR-2,AR-4 or all (repeatable)",
    )
    p.add_argument("--role", required=True, choices=("preparer", "reviewer"))
    p.add_argument("--name", required=True, help="who signs")
    p.add_argument("--note", help="what was checked, or a reservation")
    p.add_argument("--date", help="the date of the sign-off (default today), YYYY-MM-DD")
    p.set_defaults(func=cmd_signoff)

    p = sub.add_parser("send", help="send a closed period's outbox by e-mail (SMTP)")
    p.add_argument("--period")
    p.add_argument("--params")
    p.add_argument("--entity")
    p.add_argument("--channel", choices=("email",), default="email")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    p.add_argument(
        "--confirm",
        action="append",
        help="message id(s) of the outbox that went out another way (SMS gateway, phone "
        "call): recorded as confirmed, counted as sent (repeatable, or comma-separated)",
    )
    p.add_argument("--by", help="who sends or confirms (recorded in the contact log)")
    p.add_argument("--note", help="with --confirm: how it went out")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("demo", help="close the bundled sample periods in order")
    p.add_argument("--root", default=".", help="project folder holding params/ and data/")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("rules", help="print the matching rules in order, with their settings")
    p.add_argument("--params", help="params file whose matching settings to show")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("templates", help="list the matching rule templates and presets")
    p.set_defaults(func=cmd_templates)

    p = sub.add_parser("defaults", help="print every parameter's default as YAML")
    p.set_defaults(func=cmd_defaults)

    p = sub.add_parser("schema", help="write the JSON Schema of params files, for editors")
    p.add_argument("--out", default=SCHEMA_FILE, help=f"default {SCHEMA_FILE}; - for stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("synth", help="generate sample periods with ground truth")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=20261031)
    p.add_argument("--periods", default="2026-09,2026-10")
    p.add_argument("--customers", type=int, default=300)
    p.add_argument("--invoices", type=int, default=2500)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument(
        "--world",
        choices=("default", "wide"),
        default="default",
        help="default: the bundled sample's world; wide: shared trade names, third-party "
        "payers, old invoices, more keying errors (arlib.synth)",
    )
    p.set_defaults(func=cmd_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("close", "signoff", "send") and not (args.period or args.params):
        print(f"arlib {args.command}: give --period YYYY-MM or --params FILE", file=sys.stderr)
        return EXIT_DATA
    # after parsing, so that --help and a usage error import no stage
    from arlib.config import ConfigError
    from arlib.safe_output import OutputFailed, describe_os_error

    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_DATA
    except OutputFailed as exc:
        print(f"arlib {args.command} failed: {exc}", file=sys.stderr)
        return EXIT_DATA
    except OSError as exc:  # a file that cannot be read or written: named, not a traceback
        print(f"arlib {args.command} failed: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_DATA


if __name__ == "__main__":
    sys.exit(main())
