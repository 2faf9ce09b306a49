"""The outbox of a close: what would be sent to whom, written, never sent by the close.

Why an outbox rather than sending from the close: a close is rerun, reviewed and reopened;
a message to a customer cannot be taken back. So every close writes
``outputs/<period>/outbox/``:

- one ``<customer>.eml`` per customer with an e-mail address (RFC 5322, openable in any
  mail program): the statement attached (its PDF when the statements index names one,
  else the statement page), the collection letter as the body (text and HTML) when the
  customer's overdue tier sends notices by e-mail, else a short cover note;
- ``sms.csv`` for an SMS gateway (message id, phone, text), each text within one SMS:
  70 characters once it holds a character outside the GSM 7-bit alphabet (any Chinese),
  else 160 (:func:`sms_limit`);
- ``index.csv``: every message (:data:`MESSAGE_SCHEMA`), phone calls for the collector
  included, and every customer who cannot be reached by a channel their tier asks for,
  with the reason (no e-mail address, a phone number that is not one, an action naming no
  channel): nobody is dropped silently.

Which channels a tier's notices use comes from its collection action (``tiers.actions``,
read by :func:`arlib.dunning.action_channels`) unless ``outbox.channels`` says. Sending is
``arlib send`` (:mod:`arlib.send`), which records every result in the outbox's contact log.
Files are byte-stable: MIME boundaries and Message-IDs are derived from the message, and
the Date header is set when the message is sent.
"""

from __future__ import annotations

import hashlib
import html
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from pydantic import Field, field_validator, model_validator

from arlib.money import fmt_money
from arlib.paramtypes import Range, Section, Text, Whole, choice, problem

TLS_MODES = ("starttls", "ssl", "none")
Channel = choice(("email", "sms", "phone"), "channel")


class SmtpConfig(Section):
    """``outbox.smtp``: the mail server ``arlib send`` sends through. The password is
    never written in params (the manifest records them): it is read from the environment
    variable ``password_env`` names."""

    host: Text | None = Field(None, description="the SMTP server; null: arlib send refuses")
    port: Annotated[Whole, Range(ge=1, le=65535)] = Field(
        587, description="its port (587 for starttls, 465 for ssl, 25 for none)"
    )
    tls: choice(TLS_MODES, "TLS mode") = Field(
        "starttls",
        description="starttls (upgrade after connecting), ssl (TLS from the start) or none "
        "(a local relay only)",
    )
    user: Text | None = Field(None, description="the login; null: no login")
    password_env: Text | None = Field(
        None, description="the environment variable holding the login's password"
    )
    from_address: Text | None = Field(
        None, description="the sender's address (From:); null: arlib send refuses"
    )
    timeout_seconds: Annotated[Whole, Range(ge=1, le=3600)] = Field(
        30, description="seconds to wait for the server before giving up"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, value: Any) -> Any:
        if isinstance(value, dict) and any(
            "password" in str(k).lower() and k != "password_env" for k in value
        ):
            raise problem(
                "a password is never written in params (the manifest records them): put it "
                "in an environment variable and name that variable in password_env"
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and email_problem(value):
            raise problem(f"from_address: {email_problem(value)}")
        return value

    @model_validator(mode="after")
    def _login_has_password(self) -> SmtpConfig:
        if self.user and not self.password_env:
            raise problem("user is given without password_env (where its password is)")
        return self


class OutboxConfig(Section):
    """``outbox:`` section of the params."""

    channels: dict[Text, tuple[Channel, ...]] = Field(
        {},
        description="channels of each tier's notices (email, sms, phone), e.g. {B: [sms, "
        "phone]}; a tier not named here takes those its collection action names (tiers."
        "actions: e-mail/letter: email, SMS: sms, phone/call: phone)",
    )
    smtp: SmtpConfig = Field(SmtpConfig(), description="the mail server of arlib send")


MESSAGE_SCHEMA = {
    "message_id": pl.String,  # <period>/<customer>/<channel>: stable across reruns
    "customer_id": pl.String,
    "name": pl.String,
    "channel": pl.String,  # email | sms | phone | none
    "kind": pl.String,  # notice (a dunning notice) | statement (the statement alone)
    "level": pl.String,
    "invoices": pl.String,  # '|'-separated: the invoices a notice names
    "recipient": pl.String,
    "send_by": pl.String,
    "sendable": pl.Boolean,
    "reason": pl.String,  # why not sendable
    "file": pl.String,  # relative to the outbox: the .eml, or sms.csv
}
SEND_BY = {"email": "arlib send", "sms": "SMS gateway (sms.csv)", "phone": "collector"}
SMS_FILE, INDEX_FILE = "sms.csv", "index.csv"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?\d{6,15}")


def email_problem(address: str | None) -> str | None:
    """Why ``address`` is not one e-mail address (None when it is)."""
    from email.headerregistry import Address

    if not (address or "").strip():
        return "no e-mail address"
    text = address.strip()
    try:
        Address(addr_spec=text)
    except (ValueError, IndexError, TypeError):
        return f"{text!r} is not an e-mail address"
    if not _EMAIL.fullmatch(text):
        return f"{text!r} is not an e-mail address"
    return None


def phone_number(raw: str | None) -> tuple[str | None, str | None]:
    """``(number, problem)``: the number without spaces, dashes, dots or brackets
    (``+1 397 555 2179`` -> ``+13975552179``), or why it is none."""
    if not (raw or "").strip():
        return None, "no phone number"
    number = re.sub(r"[\s\-.()]", "", raw.strip())
    if not _PHONE.fullmatch(number):
        return None, f"{raw.strip()!r} is not a phone number"
    return number, None


_CN_MOBILE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")


def sms_problem(number: str | None) -> str | None:
    """Why an SMS cannot go to ``number`` (a :func:`phone_number` result), or None. A
    Chinese number takes an SMS only when it is a mobile (1[3-9] and nine digits, with or
    without +86); one dialled with the trunk prefix 0 (an area code) or +86 and no mobile
    prefix is a fixed line. Numbers of other countries are taken as given."""
    if number is None:
        return None
    domestic = not number.startswith("+")
    chinese = number.startswith("+86") or (domestic and number[:1] in "01")
    if chinese and not _CN_MOBILE.fullmatch(number):
        return f"{number} is a fixed line: an SMS needs a mobile number"
    return None


def plan_messages(config, review, match, letters: pl.DataFrame, customers) -> pl.DataFrame:
    """Every message of the close's outbox (:data:`MESSAGE_SCHEMA`), by customer and channel.

    Each customer with a statement gets an e-mail (the statement; a ``notice`` too when
    its tier's notices go by e-mail); a customer with a letter gets one message per other
    channel of its tier (:func:`arlib.dunning.tier_channels`), or one ``none`` row saying
    that its tier's action names no channel.
    """
    from arlib.dunning import tier_channels
    from arlib.statements import file_stem, selected_customers

    ids = selected_customers(review, match, config.statements)
    if not ids:
        return pl.DataFrame(schema=MESSAGE_SCHEMA)
    channels = tier_channels(config)
    wanted = ["customer_id", "name", "email", "phone"]
    info = {
        r["customer_id"]: r
        for r in customers.select(
            [pl.col(c) if c in customers.columns else pl.lit(None).alias(c) for c in wanted]
        ).iter_rows(named=True)
    }
    letter = {r["customer_id"]: r for r in letters.iter_rows(named=True)}
    period = config.period
    rows = []
    stems: set[str] = set()
    for cid in ids:
        who = info.get(cid) or dict.fromkeys(wanted)
        dunned = letter.get(cid)
        by = channels.get(dunned["tier"], ()) if dunned else ()
        stem = file_stem(cid, stems)

        def row(channel, *, notice, recipient, reason, file=None, cid=cid, who=who, dun=dunned):
            return {
                "message_id": f"{period}/{cid}/{channel}",
                "customer_id": cid,
                "name": who["name"] or cid,
                "channel": channel,
                "kind": "notice" if notice else "statement",
                "level": dun["level"] if notice else None,
                "invoices": "|".join(dun["invoices"]) if notice else None,
                "recipient": recipient,
                "send_by": SEND_BY.get(channel),
                "sendable": reason is None,
                "reason": reason,
                "file": file if reason is None else None,
            }

        address = (who["email"] or "").strip() or None
        rows.append(
            row(
                "email",
                notice="email" in by,
                recipient=address,
                reason=email_problem(address),
                file=f"{stem}.eml",
            )
        )
        number, bad = phone_number(who["phone"])
        if "sms" in by:
            reason = bad or sms_problem(number)
            rows.append(row("sms", notice=True, recipient=number, reason=reason, file=SMS_FILE))
        if "phone" in by:
            rows.append(row("phone", notice=True, recipient=number, reason=bad))
        if dunned and not by:
            action = config.tiers.actions[dunned["tier"]]
            why = f"tier {dunned['tier']}'s action {action!r} names no channel (outbox.channels)"
            rows.append(row("none", notice=True, recipient=None, reason=why))
    return pl.DataFrame(rows, schema=MESSAGE_SCHEMA)


# --------------------------------------------------------------------------- SMS
#: the GSM 03.38 default alphabet: an SMS of these alone holds 160 characters; one other
#: character (any Chinese) makes it UCS-2, 70 characters
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def sms_limit(text: str) -> int:
    """Characters one SMS holds for ``text``: 160 in the GSM alphabet, else 70."""
    return 160 if all(c in GSM7 for c in text) else 70


def sms_fits(text: str) -> bool:
    return len(text) <= sms_limit(text)


_LEVEL_WORDS = {
    "zh": {"reminder": "付款提醒", "second": "第二次催款通知", "final": "最后催款通知"},
    "en": {"reminder": "Payment reminder", "second": "Second notice", "final": "Final demand"},
}
_SMS = {
    "zh": {
        "levels": _LEVEL_WORDS["zh"],
        "forms": (
            "{sender}{level}：贵司{count}张发票已逾期，合计{amounts}，请尽快安排付款，"
            "如有疑问请与我司联系。",
            "{sender}{level}：贵司{count}张发票已逾期，合计{amounts}，请尽快付款。",
            "{sender}{level}：贵司{count}张发票已逾期，请尽快付款。",
        ),
    },
    "en": {
        "levels": _LEVEL_WORDS["en"],
        "forms": (
            "{sender}{level}. {invoices} overdue, total {amounts}. Please arrange payment "
            "promptly; any questions, please contact us.",
            "{sender}{level}. {invoices} overdue, total {amounts}. Please pay promptly.",
            "{sender}{level}. {invoices} overdue. Please pay promptly.",
        ),
    },
}


def sms_text(lang: str, sender: str, level: str, count: int, amounts: str) -> str:
    """The longest wording that fits one SMS, signed by the sender (【sender】 in Chinese,
    ``sender: `` in English); the sender's name is cut only when even the shortest does
    not fit."""
    words = _SMS[lang]
    # an SMS never says the statement was e-mailed: it may go out before or without it
    invoices = "1 invoice" if count == 1 else f"{count} invoices"
    fields = {
        "level": words["levels"][level],
        "count": count,
        "invoices": invoices,
        "amounts": amounts,
    }

    def signed(form: str, name: str) -> str:
        mark = "" if not name else f"【{name}】" if lang == "zh" else f"{name}: "
        return form.format(sender=mark, **fields)

    for form in words["forms"]:
        text = signed(form, sender)
        if sms_fits(text):
            return text
    shortest = words["forms"][-1]
    while sender and not sms_fits(signed(shortest, sender)):
        sender = sender[:-1]
    return signed(shortest, sender)


# --------------------------------------------------------------------------- e-mail
_MAIL = {
    "en": {
        "statement": "Statement of account {period}",
        "notice": _LEVEL_WORDS["en"],
        "cover": "Dear {name},\n\nPlease find attached our statement of account as of {as_of}. "
        "Please confirm the balance, or tell us of any difference, within {days} days.\n\n"
        "Yours faithfully,\n{sender}",
    },
    "zh": {
        "statement": "对账单 {period}",
        "notice": _LEVEL_WORDS["zh"],
        "cover": "{name}：\n\n随函附上截至{as_of}的对账单，请于{days}日内确认余额，"
        "如有差异请及时告知。\n\n此致\n敬礼\n{sender}",
    },
}


class _Text(HTMLParser):
    """The text of an HTML page, a line per block and cells apart: the letter's plain
    alternative, so a mail program without HTML shows the same words."""

    BLOCKS = {"p", "br", "tr", "h1", "h2", "h3", "div", "li", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title", "script"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")

    def handle_endtag(self, tag):
        if tag in ("style", "title", "script"):
            self.skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _boundaries(message, seed: str) -> None:
    """Fixed MIME boundaries (the library draws random ones): the same close writes the
    same bytes."""
    for n, part in enumerate(message.walk()):
        if part.is_multipart():
            digest = hashlib.sha256(f"{seed}/{n}".encode()).hexdigest()[:24]
            part.set_boundary(f"=_arlib_{digest}_{n}")


def build_email(
    message: dict,
    *,
    subject: str,
    text: str,
    page: str,
    attachments: list[tuple[Path, str]],
    sender: str,
    from_address: str | None,
):
    """One customer's e-mail as an :class:`email.message.EmailMessage`; ``attachments``
    are (file, the name the customer sees)."""
    from email.headerregistry import Address
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["Subject"] = subject
    if from_address:
        mail["From"] = Address(display_name=sender, addr_spec=from_address)
    mail["To"] = Address(display_name=message["name"], addr_spec=message["recipient"])
    domain = from_address.rpartition("@")[2] if from_address else "arlib.invalid"
    key = re.sub(r"[^\w.-]", "_", message["message_id"].replace("/", "."))
    mail["Message-ID"] = f"<{key}@{domain}>"
    mail["X-Arlib-Message"] = message["message_id"]
    # base64 keeps the message 7-bit clean: any server takes it, Chinese text included
    mail.set_content(text, cte="base64")
    mail.add_alternative(page, subtype="html", cte="base64")
    for path, name in attachments:
        # as bytes: the customer gets the file as written, to the last byte
        pdf = path.suffix.lower() == ".pdf"
        mail.add_attachment(
            path.read_bytes(),
            maintype="application" if pdf else "text",
            subtype="pdf" if pdf else "html",
            filename=name,
            params={} if pdf else {"charset": "utf-8"},
        )
    _boundaries(mail, message["message_id"])
    return mail


def write_outbox(result, out: Path) -> list[Path]:
    """Write ``outbox/`` (e-mails, ``sms.csv``, ``index.csv``) of a close into ``out``."""
    from email import policy

    from arlib.safe_output import csv_safe

    folder = out / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    messages = result.outbox
    config = result.config
    statements = _statement_files(out)
    sender = config.statements.sender.with_defaults(config.entity).legal_name or ""
    smtp = config.params.outbox.smtp
    amounts = _overdue_amounts(result)
    written: list[Path] = []
    sms_rows = []
    for m in messages.filter(pl.col("sendable")).iter_rows(named=True):
        files = statements.get(m["customer_id"], {})
        lang = files.get("language") or "en"
        if m["channel"] == "email":
            words = _MAIL[lang]
            letter = files.get("letter")
            if m["kind"] == "notice" and letter is not None:
                page = (out / letter).read_text(encoding="utf-8")
                subject = f"{words['notice'][m['level']]} - {sender}"
                text = html_text(page)
            else:
                text = words["cover"].format(
                    name=m["name"],
                    as_of=config.as_of.isoformat(),
                    days=config.statements.reply_days,
                    sender=sender,
                )
                page = _cover_page(text, lang)
                subject = f"{words['statement'].format(period=config.period)} - {sender}"
            attach = [
                (out / p, _attachment_name(p, number))
                for p, number in (
                    (files.get("statement"), files.get("number")),
                    (files.get("letter_pdf"), files.get("letter_number")),
                )
                if p
            ]
            if m["kind"] != "notice":
                attach = attach[:1]
            mail = build_email(
                m,
                subject=subject,
                text=text,
                page=page,
                attachments=attach,
                sender=sender,
                from_address=smtp.from_address,
            )
            path = folder / m["file"]
            path.write_bytes(mail.as_bytes(policy=policy.SMTP))
            written.append(path)
        elif m["channel"] == "sms":
            count = len(m["invoices"].split("|"))
            text = sms_text(lang, sender, m["level"], count, amounts.get(m["customer_id"], ""))
            sms_rows.append(
                {
                    "message_id": m["message_id"],
                    "customer_id": m["customer_id"],
                    "phone": m["recipient"],
                    "text": text,
                    "characters": len(text),
                    "limit": sms_limit(text),
                }
            )
    sms_schema = {
        "message_id": pl.String,
        "customer_id": pl.String,
        "phone": pl.String,
        "text": pl.String,
        "characters": pl.Int64,
        "limit": pl.Int64,
    }
    sms = pl.DataFrame(sms_rows, schema=sms_schema)
    # phone numbers are digits after an optional '+' (phone_number): no formula can hide in
    # them, and a gateway wants the '+' as it is
    safe = csv_safe(sms).with_columns(sms["phone"])
    sms_path = folder / SMS_FILE
    safe.write_csv(sms_path, include_bom=False, line_terminator="\n")
    index_path = folder / INDEX_FILE
    phones = pl.col("channel").is_in(["sms", "phone"])
    csv_safe(messages).with_columns(
        pl.when(phones)
        .then(messages["recipient"])
        .otherwise(pl.col("recipient"))
        .alias("recipient")
    ).write_csv(index_path, include_bom=False, line_terminator="\n")
    return [*written, sms_path, index_path]


def _cover_page(text: str, lang: str) -> str:
    paragraphs = text.split("\n\n")
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    head = f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"></head>'
    return f"{head}<body>{body}</body></html>\n"


def _attachment_name(path: str, number: str | None) -> str:
    """The name the customer sees: the document's number (``ST-2026-10-C000001.pdf``), so a
    statement and a letter of one customer never share a name; else the file's own."""
    return f"{number}{Path(path).suffix}" if number else Path(path).name


def _statement_files(out: Path) -> dict[str, dict[str, str]]:
    """Per customer, from ``statements/index.csv``: the statement to attach (its PDF,
    ``statement_pdf``, when the index names one, else ``statement``), the letter page, the
    letter's PDF (``letter_pdf``) and the language."""
    index = out / "statements" / "index.csv"
    if not index.is_file():
        return {}
    rows = pl.read_csv(index, infer_schema=False).unique("customer_id", keep="first")
    found = {}
    for r in rows.iter_rows(named=True):
        number = r.get("document_number")
        found[r["customer_id"]] = {
            "number": number,
            # the letter's number is the statement's with its own prefix (DL- for ST-)
            "letter_number": "DL-" + number[3:] if number and number.startswith("ST-") else None,
            "statement": r.get("statement_pdf") or r.get("statement"),
            "letter": r.get("letter"),
            "letter_pdf": r.get("letter_pdf"),
            "language": r.get("language"),
        }
    return found


def _overdue_amounts(result) -> dict[str, str]:
    """``CNY 1,000.00, USD 20.00`` per customer: the open amounts of its letter's invoices."""
    letters = result.letters.select("customer_id", "invoices").explode("invoices")
    if letters.height == 0:
        return {}
    sums = (
        result.review.aging.detail.join(
            letters.rename({"invoices": "invoice_id"}), on=["customer_id", "invoice_id"]
        )
        .group_by("customer_id", "currency")
        .agg(pl.col("open_amount").sum())
        .sort("customer_id", "currency")
    )
    text: dict[str, list[str]] = {}
    for cid, ccy, amount in sums.iter_rows():
        text.setdefault(cid, []).append(f"{ccy} {fmt_money(Decimal(amount))}")
    return {cid: ", ".join(parts) for cid, parts in text.items()}
