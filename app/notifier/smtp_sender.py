"""Handing a mail to the SMTP server (aiosmtplib): STARTTLS or TLS, and login, as configured.

`send` returns only once the server has accepted the mail for its recipient; every failure comes back as
MailNotSent with a plain sentence saying what the server did (unreachable, refused, timed out, ...).
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from app.config import NotifierSettings


class MailNotSent(Exception):
    """The server did not accept the mail; the message says why, in plain words."""


class SmtpSender:
    def __init__(self, settings: NotifierSettings, password: str | None = None) -> None:
        self.settings = settings
        self.password = password

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.settings.smtp_tls == "none":
            return None
        return ssl.create_default_context(cafile=self.settings.smtp_cafile or None)

    async def send(self, message: EmailMessage) -> str:
        """Send one mail; returns the server's answer to it. Raises MailNotSent."""
        s = self.settings
        where = f"the mail server at {s.smtp_address}"
        try:
            responses, answer = await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=self.password if s.smtp_user else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                tls_context=self._tls_context(),
                timeout=s.smtp_timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            raise MailNotSent(f"{where} refused the address ({refused}).") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise MailNotSent(f"{where} refused the user name or password ({exc.code} {exc.message}).") from None
        except aiosmtplib.SMTPSenderRefused as exc:
            raise MailNotSent(f"{where} refused the sender {exc.sender} ({exc.code} {exc.message}).") from None
        except (aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPReadTimeoutError, TimeoutError):
            raise MailNotSent(f"{where} did not answer within {s.smtp_timeout:g} seconds.") from None
        except aiosmtplib.SMTPConnectError as exc:
            raise MailNotSent(f"{where} cannot be reached ({_reason(exc)}).") from None
        except aiosmtplib.SMTPServerDisconnected as exc:
            raise MailNotSent(f"{where} closed the connection ({_reason(exc)}).") from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise MailNotSent(f"{where} does not offer what is configured ({exc}); check KILTSHOP_SMTP_TLS.") \
                from None
        except aiosmtplib.SMTPResponseException as exc:
            raise MailNotSent(f"{where} refused the mail ({exc.code} {exc.message}).") from None
        except ssl.SSLError as exc:
            raise MailNotSent(f"{where}: the secure connection failed ({exc.reason or exc}).") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"{where} could not take the mail ({_reason(exc)}).") from None
        for recipient, response in responses.items():
            if response.code >= 400:  # a partial refusal: only one recipient per mail here, so it is this one
                raise MailNotSent(f"{where} refused {recipient} ({response.code} {response.message}).")
        return answer


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[0][:200] if text else type(exc).__name__
