"""`kiltshop notifier` (the mail-sending process beside the service) and `kiltshop notices` (your own notice
settings, through the contract)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from app.cli import formatting as fmt
from app.client.shop_client import ShopClient
from app.config import (
    SMTP_PASSWORD_ENV,
    SMTP_TLS_MODES,
    ConfigError,
    NotifierSettings,
    Settings,
    load_notifier_settings,
)
from app.domain.notices import HHMM_RE, NOTICE_ROLES
from app.security.secrets import load_password, save_password

EXIT_UNAVAILABLE = 3


class NoticeUsageError(ValueError):
    """Wrong use of `kiltshop notices`; main() prints it as one line (exit 2)."""


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("notifier", parents=[common],
                       help="e-mail shop events to the people who want them (runs beside the service)")
    p.add_argument("--database-url", help="the shop's database, as the service has it (env KILTSHOP_DATABASE_URL)")
    p.add_argument("--smtp-host", help="the mail server (env KILTSHOP_SMTP_HOST)")
    p.add_argument("--smtp-port", help="its port; default 587, 465 with --smtp-tls tls, 25 with none")
    p.add_argument("--smtp-tls", choices=SMTP_TLS_MODES, help="starttls (default), tls, or none")
    p.add_argument("--smtp-user", help="log in as this user (password: KILTSHOP_SMTP_PASSWORD or the keyring)")
    p.add_argument("--smtp-sender", help="the From address of the mails (env KILTSHOP_SMTP_SENDER)")
    p.add_argument("--smtp-cafile", help="a CA bundle to trust for the mail server's certificate")
    p.add_argument("--shipping-to", action="append", metavar="ADDRESS",
                   help="also mail every kilt ready to collect here (repeatable; env KILTSHOP_NOTIFY_SHIPPING)")
    p.add_argument("--workshop-to", action="append", metavar="ADDRESS",
                   help="also mail every new order here (repeatable; env KILTSHOP_NOTIFY_WORKSHOP)")
    p.add_argument("--collect-from", help="where a ready kilt is collected, for the mails (the workshop's address)")
    p.add_argument("--retry-for", metavar="SECONDS",
                   help="how long a mail the server will not take is retried before it is dead-lettered (900)")
    p.add_argument("--smtp-timeout", metavar="SECONDS", help="how long one mail may take to send (default 60)")
    p.add_argument("--save-password", action="store_true",
                   help="ask for the SMTP password, keep it in the system keyring, and exit")
    p.add_argument("--test-mail", metavar="ADDRESS", help="send one test mail to ADDRESS and exit")

    p = sub.add_parser("notices", parents=[common], help="your own notice settings: e-mail, quiet hours, digest")
    p.add_argument("--role", choices=NOTICE_ROLES, required=True, help="whose notices (your login's role)")
    onoff = p.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="email_on", action="store_const", const=True, help="e-mail me")
    onoff.add_argument("--off", dest="email_on", action="store_const", const=False, help="stop the mails")
    p.add_argument("--email", metavar="ADDRESS", help="where to send them")
    p.add_argument("--quiet", metavar="HH:MM-HH:MM", help="no mail between these times, e.g. 21:00-07:00; 'off'")
    p.add_argument("--digest", metavar="HH:MM", help="one mail a day at this time instead of one per order; 'off'")
    p.add_argument("--timezone", help="the time zone of those times, e.g. Europe/London")


# -- kiltshop notices ----------------------------------------------------------------------------------


def notice_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.email is not None:
        changes["email"] = args.email
    if args.email_on is not None:
        changes["email_enabled"] = args.email_on
    if args.quiet is not None:
        if args.quiet.strip().lower() == "off":
            changes.update(quiet_start=None, quiet_end=None)
        else:
            match = re.fullmatch(r"\s*(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*", args.quiet)
            if not match or not all(HHMM_RE.match(t) for t in match.groups()):
                raise NoticeUsageError(f"--quiet {args.quiet!r} must look like 21:00-07:00 (or be 'off')")
            changes.update(quiet_start=match.group(1), quiet_end=match.group(2))
    if args.digest is not None:
        if args.digest.strip().lower() == "off":
            changes["digest"] = False
        elif HHMM_RE.match(args.digest.strip()):
            changes.update(digest=True, digest_at=args.digest.strip())
        else:
            raise NoticeUsageError(f"--digest {args.digest!r} must be a time like 08:00 (or 'off')")
    if args.timezone is not None:
        changes["timezone"] = args.timezone
    return changes


async def cmd_notices(client: ShopClient, args: argparse.Namespace) -> None:
    settings: dict[str, Any] = await client.call("notices.settings.get", {"role": args.role})
    changes = notice_changes(args)
    if changes:
        settings = await client.call("notices.settings.set",
                                     {"role": args.role, "version": settings["version"], **changes})
    text = fmt.notice_settings_text(settings)
    print(json.dumps(settings, indent=2, ensure_ascii=False) if args.json else text)


# -- kiltshop notifier ---------------------------------------------------------------------------------


def _notifier_settings(args: argparse.Namespace) -> NotifierSettings:
    return load_notifier_settings(
        smtp_host=args.smtp_host, smtp_port=args.smtp_port, smtp_tls=args.smtp_tls, smtp_user=args.smtp_user,
        smtp_sender=args.smtp_sender, smtp_cafile=args.smtp_cafile, notify_shipping=args.shipping_to,
        notify_workshop=args.workshop_to, collect_from=args.collect_from, retry_for=args.retry_for,
        smtp_timeout=args.smtp_timeout,
    )


def smtp_password(notify: NotifierSettings) -> str | None:
    """KILTSHOP_SMTP_PASSWORD, else the keyring; None when no login is configured. ConfigError when a login is
    configured but there is no password for it."""
    if not notify.smtp_user:
        return None
    password = os.environ.get(SMTP_PASSWORD_ENV)
    if password:
        return password
    found = asyncio.run(load_password(f"smtp:{notify.smtp_user}", notify.smtp_address))
    if found.password:
        return found.password
    why = f" ({found.problem})" if found.problem else ""
    raise ConfigError(
        f"There is no password for the mail server login {notify.smtp_user} at {notify.smtp_address}{why}: set "
        f"{SMTP_PASSWORD_ENV}, or store it once with 'kiltshop notifier --save-password'."
    )


def _save_password(notify: NotifierSettings) -> int:
    if not notify.smtp_user:
        raise ConfigError("There is no SMTP login to keep a password for: give --smtp-user (or KILTSHOP_SMTP_USER).")
    if not sys.stdin.isatty():
        raise ConfigError("--save-password asks for the password, so it needs a terminal.")
    password = getpass.getpass(f"Password for {notify.smtp_user} at {notify.smtp_address}: ")
    saved = asyncio.run(save_password(f"smtp:{notify.smtp_user}", notify.smtp_address, password))
    if not saved.ok:
        raise ConfigError(saved.problem.replace("will be asked for each time", f"must be given in {SMTP_PASSWORD_ENV}"))
    print(f"The password for {notify.smtp_user} at {notify.smtp_address} is in the keyring now.")
    return 0


async def _send_test(notify: NotifierSettings, password: str | None, to: str) -> None:
    from app.notifier.mail_content import Mail, build_message, mail_id
    from app.notifier.smtp_sender import SmtpSender

    now = datetime.now(UTC)
    mail = Mail("Kiltshop test mail", "This is a test mail from the kilt shop's notifier. The mail settings work.\n")
    message = build_message(mail, notify.smtp_sender, to, mail_id([now.isoformat()], to, notify.smtp_sender),
                            [], now)
    del message["X-Kiltshop-Event"], message["X-Kiltshop-Order"]
    await SmtpSender(notify, password).send(message)


def run(settings: Settings, args: argparse.Namespace) -> int:
    notify = _notifier_settings(args)
    if args.save_password:
        return _save_password(notify)
    password = smtp_password(notify)
    if args.test_mail:
        from app.notifier.smtp_sender import MailNotSent

        try:
            asyncio.run(_send_test(notify, password, args.test_mail))
        except MailNotSent as exc:
            print(f"kiltshop: the test mail was not sent: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        print(f"Sent a test mail to {args.test_mail} through {notify.smtp_address}.")
        return 0
    from app.notifier.notifier import Notifier

    logging.basicConfig(level=min(logging.INFO, logging.getLogger().level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    asyncio.run(Notifier(settings, notify, password=password).run_until_signalled())
    return 0
