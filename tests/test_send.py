"""``arlib send`` end to end against a local SMTP server (aiosmtpd on 127.0.0.1): the
e-mails arrive with their attachments, each result is in the contact log, a rerun sends
nothing new, a refused recipient fails alone and is retried; bad settings are one clear
error. The outbox is test_outbox's: three sendable e-mails (C001, C002, C005), C003 and
C004 not sendable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from arlib import cli
from arlib.config import load_config
from arlib.send import SendFailed, confirm, send_outbox
from tests.smtpserver import LocalSmtp, free_port
from tests.test_outbox import close_into

SENDABLE = ["2026-09/C001/email", "2026-09/C002/email", "2026-09/C005/email"]


@pytest.fixture
def server():
    with LocalSmtp() as smtp:
        yield smtp


def project(tmp_path: Path, smtp: dict):
    result, folder = close_into(tmp_path, outbox={"smtp": smtp})
    return result.config, folder


def log(folder: Path) -> list[dict[str, str]]:
    path = folder / "contact_log.csv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_emails_arrive_with_attachments_and_a_rerun_sends_nothing_new(tmp_path, server):
    config, folder = project(tmp_path, server.params())
    report = send_outbox(config)
    assert report.sent == SENDABLE and report.failed == [] and report.unsendable == 2
    received = server.mailbox.received
    assert [(frm, to) for frm, to, _ in received] == [
        ("ar@acme.example", ["ap@alpha.example"]),
        ("ar@acme.example", ["caiwu@beta.example"]),
        ("ar@acme.example", ["ap@epsilon.example"]),
    ]
    beta = received[1][2]
    assert beta["From"].addresses[0].addr_spec == "ar@acme.example"
    assert beta["From"].addresses[0].display_name == "ACME-SH"
    assert beta["Date"] is not None and beta["Subject"] == "付款提醒 - ACME-SH"
    assert beta["Message-ID"] == "<2026-09.C002.email@acme.example>"
    attached, letter = list(beta.iter_attachments())  # the statement and the letter
    statement = (folder.parent / "statements" / "C002.pdf").read_bytes()
    assert attached.get_filename() == "ST-2026-09-C002.pdf"
    assert attached.get_content() == statement  # as written, to the last byte
    assert letter.get_filename() == "DL-2026-09-C002.pdf"
    assert "付款提醒函" in beta.get_body(("plain",)).get_content()
    rows = log(folder)
    assert [(r["message_id"], r["result"], r["reply"]) for r in rows] == [
        ("2026-09/C001/email", "sent", "250 2.0.0 queued as 1"),
        ("2026-09/C002/email", "sent", "250 2.0.0 queued as 2"),
        ("2026-09/C005/email", "sent", "250 2.0.0 queued as 3"),
    ]
    again = send_outbox(config)
    assert again.sent == [] and again.already == SENDABLE
    assert len(server.mailbox.received) == 3 and len(log(folder)) == 3


def test_a_refused_recipient_fails_alone_and_is_retried(tmp_path, server):
    config, folder = project(tmp_path, server.params())
    server.mailbox.refuse = {"caiwu@beta.example"}
    report = send_outbox(config)
    assert report.sent == [SENDABLE[0], SENDABLE[2]]
    assert report.failed == [
        ("2026-09/C002/email", "550 5.1.1 <caiwu@beta.example>: mailbox unavailable")
    ]
    assert [to for _, to, _ in server.mailbox.received] == [
        ["ap@alpha.example"],
        ["ap@epsilon.example"],
    ]
    server.mailbox.refuse = set()
    retry = send_outbox(config)
    assert retry.sent == ["2026-09/C002/email"] and retry.already == [SENDABLE[0], SENDABLE[2]]
    assert [r["result"] for r in log(folder)] == ["sent", "failed", "sent", "sent"]
    assert len(server.mailbox.received) == 3


def test_a_dry_run_sends_and_logs_nothing(tmp_path, server, capsys):
    config, folder = project(tmp_path, server.params())
    report = send_outbox(config, dry_run=True)
    assert [m for m, _ in report.planned] == SENDABLE
    assert server.mailbox.received == [] and not (folder / "contact_log.csv").exists()
    code = cli.main(["send", "--params", str(config.source), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "would send 2026-09/C002/email to caiwu@beta.example" in out
    assert "0 sent, 0 failed, 0 sent before, 2 not sendable" in out


def test_the_cli_sends_and_says_what_it_did(tmp_path, server, capsys):
    config, folder = project(tmp_path, server.params())
    assert cli.main(["send", "--period", "2026-09", "--params", str(config.source)]) == 0
    out = capsys.readouterr().out
    assert "sent 2026-09/C005/email" in out and "3 sent, 0 failed, 0 sent before" in out
    assert cli.main(["send", "--period", "2026-09", "--params", str(config.source)]) == 0
    assert "0 sent, 0 failed, 3 sent before" in capsys.readouterr().out
    server.mailbox.refuse = {"ap@alpha.example"}  # nothing left to send: still nothing
    assert len(server.mailbox.received) == 3


@pytest.mark.parametrize(
    ("smtp", "message"),
    [
        ({"host": None}, "outbox.smtp.host not set"),
        ({"from_address": None}, "outbox.smtp.from_address not set"),
        (
            {"user": "ar", "password_env": "ARLIB_TEST_NO_SUCH_VAR"},
            "names the environment variable ARLIB_TEST_NO_SUCH_VAR, which is not set",
        ),
        ({"port": "closed"}, "cannot send through 127.0.0.1:"),
    ],
)
def test_bad_settings_are_one_clear_error_and_nothing_is_logged(
    tmp_path, server, capsys, monkeypatch, smtp, message
):
    monkeypatch.delenv("ARLIB_TEST_NO_SUCH_VAR", raising=False)
    given = {**server.params(), **smtp}
    if given["port"] == "closed":
        given["port"] = free_port()  # nobody listens there
    config, folder = project(tmp_path, {k: v for k, v in given.items() if v is not None})
    with pytest.raises(SendFailed, match=message):
        send_outbox(config)
    assert cli.main(["send", "--params", str(config.source)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arlib send: ") and message.split(",")[0] in err
    assert "Traceback" not in err
    assert log(folder) == [] and server.mailbox.received == []


def test_a_password_from_the_environment_logs_in(tmp_path, monkeypatch):
    """The local server offers no AUTH: the login is attempted with the password from the
    environment, and its refusal is the clear error (not a traceback)."""
    monkeypatch.setenv("ARLIB_TEST_SMTP_PASSWORD", "s3cret")
    with LocalSmtp() as smtp:
        given = {**smtp.params(), "user": "ar", "password_env": "ARLIB_TEST_SMTP_PASSWORD"}
        config, _ = project(tmp_path, given)
        with pytest.raises(SendFailed, match="cannot send through") as failed:
            send_outbox(config)
    assert "s3cret" not in str(failed.value)


def test_no_outbox_is_a_clear_error(tmp_path, server):
    config, folder = project(tmp_path, server.params())
    (folder / "index.csv").unlink()
    with pytest.raises(SendFailed, match="no outbox in .*: close 2026-09 first"):
        send_outbox(config)


def test_notices_sent_another_way_are_confirmed_once(tmp_path, server, capsys):
    config, folder = project(tmp_path, server.params())
    with pytest.raises(SendFailed, match="not messages of the outbox of 2026-09: 2026-09/C9/sms"):
        confirm(config, ["2026-09/C9/sms"], by="zhang.min")
    with pytest.raises(SendFailed, match="not sendable, so not sent: 2026-09/C005/sms"):
        confirm(config, ["2026-09/C005/sms"], by="zhang.min")
    with pytest.raises(SendFailed, match="needs --by"):
        confirm(config, ["2026-09/C001/sms"], by=" ")
    args = [
        "send",
        "--params",
        str(config.source),
        "--confirm",
        "2026-09/C001/sms,2026-09/C001/phone",
    ]
    assert cli.main([*args, "--by", "zhang.min", "--note", "called Mr Li"]) == 0
    assert "confirmed 2 message(s); 0 were already on record" in capsys.readouterr().out
    assert cli.main([*args, "--by", "zhang.min"]) == 0
    assert "confirmed 0 message(s); 2 were already on record" in capsys.readouterr().out
    rows = log(folder)
    assert [(r["message_id"], r["result"], r["by"], r["reply"]) for r in rows] == [
        ("2026-09/C001/sms", "confirmed", "zhang.min", "called Mr Li"),
        ("2026-09/C001/phone", "confirmed", "zhang.min", "called Mr Li"),
    ]
    assert rows[0]["recipient"] == "'+8613800000001"  # the log is formula-safe
    assert send_outbox(config).sent == SENDABLE  # confirming an SMS sends no e-mail


def test_only_email_is_sent(tmp_path, server):
    config, _ = project(tmp_path, server.params())
    with pytest.raises(SendFailed, match="sends e-mail only"):
        send_outbox(config, channel="sms")


def test_a_reopened_close_keeps_its_contact_log_out_of_the_hashes(tmp_path, monkeypatch):
    """What was sent stays sent when the period is closed again: the new version's outbox
    has the log, and the manifest does not hash a file that grows after publishing."""
    import json
    import shutil

    from arlib.close import run_close
    from tests.conftest import ROOT, fake_notebooks

    fake_notebooks(monkeypatch)
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    shutil.copy2(ROOT / "params" / "2026-09.yaml", root / "params")
    shutil.copytree(ROOT / "data" / "sample" / "2026-09", root / "data" / "sample" / "2026-09")
    shutil.copy2(ROOT / "data" / "sample" / "customers.csv", root / "data" / "sample")
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    out = run_close(root / "params" / "2026-09.yaml", progress=False)
    line = "2026-10-02T08:00:00+00:00,2026-09/C000001/email,C000001,email,a@b.example,sent,250,x\n"
    logged = out / "outbox" / "contact_log.csv"
    logged.write_text(",".join(LOG_HEADER) + "\n" + line, encoding="utf-8")
    run_close(root / "params" / "2026-09.yaml", progress=False, reopen="late credit note")
    assert logged.read_text(encoding="utf-8").endswith(line)
    hashed = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["output_sha256"]
    assert "outbox/index.csv" in hashed and "outbox/contact_log.csv" not in hashed


LOG_HEADER = (
    "logged_at",
    "message_id",
    "customer_id",
    "channel",
    "recipient",
    "result",
    "reply",
    "by",
)


def test_a_sender_given_after_the_close_signs_the_message(tmp_path, server):
    """The outbox was written before outbox.smtp.from_address was set: no From, and a
    Message-ID of no domain; sending sets both from the params as they are now."""
    import yaml

    smtp = {k: v for k, v in server.params().items() if k != "from_address"}
    config, folder = project(tmp_path, smtp)
    assert parse_eml(folder / "C002.eml")["From"] is None
    params = yaml.safe_load(Path(config.source).read_text(encoding="utf-8"))
    params["outbox"]["smtp"]["from_address"] = "ar@acme.example"
    Path(config.source).write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    send_outbox(load_config(config.source))
    beta = server.mailbox.received[1][2]
    assert beta["From"].addresses[0].addr_spec == "ar@acme.example"
    assert beta["From"].addresses[0].display_name == "ACME-SH"  # the entity
    assert beta["Message-ID"] == "<2026-09.C002.email@acme.example>"


def parse_eml(path: Path):
    from email import message_from_bytes, policy

    return message_from_bytes(path.read_bytes(), policy=policy.default)
