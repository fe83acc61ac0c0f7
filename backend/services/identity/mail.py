"""Sending mail: an adapter protocol, the embedded log adapter and an SMTP adapter.

The log adapter is the embedded default: the verification and reset links it writes are
what a developer clicks on a laptop, so it logs them at INFO. Production sets SMTP.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

log = logging.getLogger("ballast.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class MailAdapter(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver one mail; raise on failure (callers log it, never show it to the client)."""


class LogMailer:
    """Writes each mail to the log (embedded mode): the links in it must stay usable."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []  # the last mails, for the CLI and tests to read back

    async def send(self, mail: Mail) -> None:
        self.sent = [*self.sent[-49:], mail]
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.text)


@dataclass(frozen=True)
class SmtpMailer:
    """Plain SMTP through the standard library, in a worker thread."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, mail.to, mail.subject
        message.set_content(mail.text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
