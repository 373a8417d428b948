"""E-mail over SMTP, on one kept-open connection per sending thread."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.per_thread import PerThread


class SmtpChannel:
    """``smtp://user:password@host:port?from=shop@example.com`` (``smtps://`` for TLS
    from the start; ``?starttls=1`` to upgrade).

    An SMTP server does not drop a repeated message: a send whose answer was lost is
    not repeated (the touch ends "uncertain").
    """

    # The Message-ID lets a receiving system notice a repeat, but the server delivers
    # it. The server paces us itself (4xx replies), so no rate of our own.
    honours_idempotency_key: ClassVar[bool] = False
    default_rate: ClassVar[float | None] = None

    def __init__(self, name: str, url: str, sender: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{name}: not an smtp:// URL: {url!r}")
        self.name = name
        self.rate = self.default_rate
        self._tls = parts.scheme == "smtps"
        self._starttls = "starttls=1" in (parts.query or "")
        self._host = parts.hostname
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender
        self._timeout = timeout
        self._conns: PerThread[smtplib.SMTP] = PerThread(_quit)

    def _connection(self) -> smtplib.SMTP:
        return self._conns.get(self._connect)

    def _connect(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self._tls else smtplib.SMTP
        conn = cls(self._host, self._port, timeout=self._timeout)
        if self._starttls:
            conn.starttls()
        if self._user:
            conn.login(self._user, self._password or "")
        return conn

    def _drop_connection(self) -> None:
        self._conns.drop()

    def _email(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        domain = self._sender.rsplit("@", 1)[-1].strip(">") or "touchflow.local"
        # The idempotency key in the Message-ID lets a receiving system drop a retry.
        mail["Message-ID"] = make_msgid(idstring=message.idempotency_key, domain=domain)
        mail["X-Touchflow-Key"] = message.idempotency_key
        if message.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.text)
        return mail

    def _send_one(self, message: OutgoingMessage) -> SendResult:
        mail = self._email(message)
        try:
            conn = self._connection()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:  # nothing was sent
            self._drop_connection()
            return SendResult.retry(f"{type(exc).__name__}: {exc}")
        try:
            refused = conn.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return self._for_code(code, text)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                self._drop_connection()
            return self._for_code(exc.smtp_code, exc.smtp_error)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            # The server may have taken the message before the connection broke.
            self._drop_connection()
            return SendResult.unknown(f"{type(exc).__name__}: {exc}")
        if refused:
            code, text = next(iter(refused.values()))
            return self._for_code(code, text)
        return SendResult.sent(mail["Message-ID"])

    @staticmethod
    def _for_code(code: int, text: bytes | str) -> SendResult:
        detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        error = f"SMTP {code}: {detail}"
        # 4xx is "try again later" in SMTP; 5xx is final.
        return SendResult.retry(error) if 400 <= code < 500 else SendResult.failed(error)

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def close(self) -> None:
        self._conns.close_all()


def _quit(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.quit()
