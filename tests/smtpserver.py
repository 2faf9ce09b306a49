"""A local SMTP server for the outbox tests (aiosmtpd on 127.0.0.1 and a free port): it
keeps every message it accepts and refuses the recipients it is told to refuse."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy


class Mailbox:
    """aiosmtpd handler: accepted messages in ``received`` (parsed), ``refuse`` addresses
    answered 550 at RCPT."""

    def __init__(self):
        self.received = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
        return f"250 2.0.0 queued as {len(self.received)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalSmtp:
    """``with LocalSmtp() as smtp:`` a running server; ``smtp.port``, ``smtp.mailbox``."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> LocalSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def params(self) -> dict:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "tls": "none",
            "from_address": "ar@acme.example",
        }
