"""``arlib send``: the outbox of a closed period sent over SMTP, each result on record.

Why a command of its own, run by a person: a close never sends (it is rerun and reopened;
a message cannot be taken back). Sending reads ``outputs/<period>/outbox/index.csv``, sends
each e-mail not yet sent, and appends one row per attempt to ``outbox/contact_log.csv``
(:data:`arlib.dunning.LOG_COLUMNS`: when, which message, to whom, ``sent`` with the
server's reply or ``failed`` with its refusal). The log is append-only and read before
every run: a message sent (or confirmed) is never sent again, a failed one is retried.
The next close reads the log beside its opening file, and only then does a notice count
(:mod:`arlib.dunning`).

Notices that go another way (an SMS uploaded to the gateway from ``sms.csv``, a phone
call the collector made) are recorded with ``--confirm MESSAGE_ID --by NAME``: a
``confirmed`` row, counted like a sent one.

The password is read from the environment variable ``outbox.smtp.password_env`` names,
never from params. Bad settings, an unreachable server or a refused login are one clear
error (:class:`SendFailed`), before anything is logged.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import os
import smtplib
import ssl
from pathlib import Path

import polars as pl

from arlib.dunning import CONTACT_LOG, COUNTED, LOG_COLUMNS, message_results, read_contact_log
from arlib.outbox import INDEX_FILE
from arlib.safe_output import FORMULA_PREFIXES


class SendFailed(RuntimeError):
    """Nothing could be sent (the message says why); nothing was logged."""


@dataclasses.dataclass
class SendReport:
    """What one run did, message ids by outcome."""

    sent: list[str] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    already: list[str] = dataclasses.field(default_factory=list)
    planned: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # dry run
    unsendable: int = 0


def outbox_of(config) -> Path:
    folder = config.out_dir / "outbox"
    if not (folder / INDEX_FILE).is_file():
        raise SendFailed(
            f"no outbox in {folder}: close {config.period} first (arlib close), then send"
        )
    return folder


def _index(folder: Path) -> pl.DataFrame:
    return pl.read_csv(folder / INDEX_FILE, infer_schema=False)


def _done(folder: Path) -> set[str]:
    """Messages the contact log says were sent or confirmed."""
    results = message_results(read_contact_log(folder / CONTACT_LOG))
    return set(results.filter(pl.col("result").is_in(COUNTED))["message_id"])


def _cell(value) -> str:
    text = "" if value is None else str(value).replace("\r", " ").replace("\n", " ")
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def append_log(folder: Path, rows: list[dict]) -> None:
    """Append rows to the contact log (its header first when it is new)."""
    path = folder / CONTACT_LOG
    new = not path.is_file()
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new:
            writer.writerow(LOG_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in LOG_COLUMNS])
        handle.flush()
        os.fsync(handle.fileno())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _password(smtp) -> str | None:
    if not smtp.password_env:
        return None
    value = os.environ.get(smtp.password_env)
    if not value:
        raise SendFailed(
            f"outbox.smtp.password_env names the environment variable {smtp.password_env}, "
            "which is not set: set it to the password of outbox.smtp.user"
        )
    return value


def _connect(smtp, password: str | None) -> smtplib.SMTP:
    """An open, logged-in connection, or :class:`SendFailed` saying why not."""
    where = f"{smtp.host}:{smtp.port} ({smtp.tls})"
    try:
        if smtp.tls == "ssl":
            server = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                timeout=smtp.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
            if smtp.tls == "starttls":
                server.starttls(context=ssl.create_default_context())
        if smtp.user:
            server.login(smtp.user, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(f"{where} refused the login of {smtp.user}: {_reply(exc)}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"cannot send through {where}: {exc}") from None
    return server


def _reply(exc) -> str:
    code = getattr(exc, "smtp_code", None)
    text = getattr(exc, "smtp_error", b"")
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip() if code else str(exc)


def _decoded(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _send_one(server: smtplib.SMTP, mail, sender: str, recipient: str) -> tuple[bool, str]:
    """(accepted, the server's reply): step by step, so that the reply to each is known."""
    from email import policy

    server.ehlo_or_helo_if_needed()
    code, text = server.mail(sender)
    if code != 250:
        server.rset()
        return False, f"{code} {_decoded(text)}"
    code, text = server.rcpt(recipient)
    if code not in (250, 251):
        server.rset()
        return False, f"{code} {_decoded(text)}"
    code, text = server.data(mail.as_bytes(policy=policy.SMTP))
    return code == 250, f"{code} {_decoded(text)}"


def send_outbox(config, *, channel: str = "email", dry_run: bool = False, by: str | None = None):
    """Send the outbox's e-mails not yet sent; returns a :class:`SendReport`."""
    from email import message_from_bytes, policy
    from email.headerregistry import Address
    from email.utils import formatdate

    if channel != "email":
        raise SendFailed(
            f"arlib send sends e-mail only: {channel} messages go by the SMS gateway "
            "(outbox/sms.csv) or the collector; record them with --confirm"
        )
    folder = outbox_of(config)
    index = _index(folder)
    mine = index.filter(pl.col("channel") == channel)
    ready = mine.filter(pl.col("sendable") == "true")
    report = SendReport(unsendable=mine.height - ready.height)
    done = _done(folder)
    rows = list(ready.iter_rows(named=True))
    report.already = [m["message_id"] for m in rows if m["message_id"] in done]
    todo = [m for m in rows if m["message_id"] not in done]
    if dry_run or not todo:
        report.planned = [(m["message_id"], m["recipient"]) for m in todo]
        return report
    smtp = config.params.outbox.smtp
    missing = [k for k in ("host", "from_address") if getattr(smtp, k) is None]
    if missing:
        keys = ", ".join(f"outbox.smtp.{k}" for k in missing)
        raise SendFailed(f"{keys} not set in {config.source}: nothing was sent")
    password = _password(smtp)
    server = _connect(smtp, password)
    who = by or "arlib send"
    try:
        for m in todo:
            mail = message_from_bytes((folder / m["file"]).read_bytes(), policy=policy.default)
            named = mail["From"].addresses[0].display_name if mail["From"] else ""
            legal = config.statements.sender.with_defaults(config.entity).legal_name
            shown = named or legal or ""
            del mail["From"], mail["Date"]
            mail["From"] = Address(display_name=shown, addr_spec=smtp.from_address)
            mail["Date"] = formatdate(usegmt=True)
            domain = smtp.from_address.rpartition("@")[2]
            if mail["Message-ID"] and mail["Message-ID"].endswith("@arlib.invalid>"):
                # written before from_address was set: the id of the sender's own domain
                key = str(mail["Message-ID"]).removesuffix("@arlib.invalid>")
                mail.replace_header("Message-ID", f"{key}@{domain}>")
            try:
                ok, reply = _send_one(server, mail, smtp.from_address, m["recipient"])
            except smtplib.SMTPServerDisconnected as exc:
                ok, reply = False, f"connection lost: {exc}"
            except smtplib.SMTPException as exc:
                ok, reply = False, _reply(exc)
            row = {
                "logged_at": _now(),
                "message_id": m["message_id"],
                "customer_id": m["customer_id"],
                "channel": channel,
                "recipient": m["recipient"],
                "result": "sent" if ok else "failed",
                "reply": reply,
                "by": who,
            }
            append_log(folder, [row])
            if ok:
                report.sent.append(m["message_id"])
            else:
                report.failed.append((m["message_id"], reply))
                if reply.startswith("connection lost"):
                    break
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            server.quit()
    return report


def confirm(config, message_ids: list[str], by: str, note: str | None = None) -> list[str]:
    """Record that these messages went out another way (``confirmed``); returns those
    newly recorded (one confirmed or sent before is left as it is)."""
    if not (by or "").strip():
        raise SendFailed("--confirm needs --by NAME: who confirms that the notice went out")
    folder = outbox_of(config)
    index = _index(folder)
    known = {r["message_id"]: r for r in index.iter_rows(named=True)}
    unknown = [i for i in message_ids if i not in known]
    if unknown:
        raise SendFailed(
            f"not messages of the outbox of {config.period}: {', '.join(unknown)} "
            f"(see {folder / INDEX_FILE})"
        )
    unsendable = [i for i in message_ids if known[i]["sendable"] != "true"]
    if unsendable:
        raise SendFailed(f"not sendable, so not sent: {', '.join(unsendable)} (see its reason)")
    done = _done(folder)
    new = [i for i in dict.fromkeys(message_ids) if i not in done]
    append_log(
        folder,
        [
            {
                "logged_at": _now(),
                "message_id": i,
                "customer_id": known[i]["customer_id"],
                "channel": known[i]["channel"],
                "recipient": known[i]["recipient"],
                "result": "confirmed",
                "reply": note or "",
                "by": by.strip(),
            }
            for i in new
        ],
    )
    return new
