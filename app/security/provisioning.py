"""Setting up a shop on a broker: a vhost, one login per role (or per person, mapped to a role), and
broker permissions that allow exactly that role's calls and subscriptions.

The broker is the first gate (it refuses a publish or a queue the login has no right to); the service's
role check (app/domain/roles.py) is the second. Applied with rabbitmqctl, or written as a definitions file
for `rabbitmqctl import_definitions` / the management plugin.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.client.notices import notice_queue_name
from app.contract import Names
from app.domain.notices import NOTICE_EVENTS
from app.domain.roles import NOTIFIER_ROLE, ROLES, SERVICE_ROLE, methods_of, user_name

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class ProvisionError(Exception):
    """Provisioning could not be done; the message says what to do."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str
    # exchange -> (write regex, read regex) over routing keys / binding keys
    topics: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Login:
    user: str
    role: str
    permissions: Permissions


def _alternatives(names: Sequence[str]) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def permissions_for(namespace: str, role: str, user: str) -> Permissions:
    names = Names(namespace)
    ns = re.escape(namespace)
    if role == SERVICE_ROLE:
        everything = f"^{ns}\\..*"
        return Permissions(
            configure=everything,
            write=f"{everything}|^amq\\.default$",  # replies go out through the default exchange
            read=everything,
            topics={names.rpc_exchange: (".*", ".*"), names.events_exchange: (".*", ".*")},
        )
    # Its own reply and event queues only, `<ns>.(reply|client).<login>.<token>`: the token is one word without
    # dots, so login `x.sales` cannot reach the queues of login `x.sales.dougie` (`...x.sales.dougie.<token>`).
    own = f"^{ns}\\.(reply|client)\\.{re.escape(user)}\\.[A-Za-z0-9_-]+$"
    notices = f"^{re.escape(notice_queue_name(namespace, user, role))}$"
    return Permissions(
        configure=f"{own}|{notices}",
        write=f"{own}|{notices}|^{re.escape(names.rpc_exchange)}$",
        read=f"{own}|{notices}|^{re.escape(names.events_exchange)}$",
        topics={
            # calls: only this role's methods; events: every role may subscribe to every event, none publish
            names.rpc_exchange: (_alternatives(methods_of(role)), "^$"),
            names.events_exchange: ("^$", ".*"),
        },
    )


def notifier_permissions(namespace: str) -> Permissions:
    """The notifier's login (`<ns>.notifier`): its own queues, bound to `<ns>.events` for the events it mails
    about, and dead letters out to `<ns>.dead`. No calls, no events out, no other queue. It may not declare
    the shop's exchanges or the dead-letter queue (configure would also let it delete them): the notifier
    looks them up passively; the service declares them."""
    names = Names(namespace)
    own = f"^{re.escape(namespace)}\\.notifier\\..*"
    return Permissions(
        configure=own,
        write=f"{own}|^{re.escape(names.dead_exchange)}$",  # bind its queues; publish dead letters
        read=f"{own}|^{re.escape(names.events_exchange)}$",  # consume its queues; bind them to the events
        topics={
            names.events_exchange: ("^$", _alternatives(sorted(NOTICE_EVENTS))),
            names.rpc_exchange: ("^$", "^$"),
        },
    )


def what_it_may(role: str) -> str:
    """A login's rights in a few words, for `kiltshop provision`."""
    if role in ROLES:
        return ", ".join(methods_of(role))
    if role == NOTIFIER_ROLE:
        return "its own notifier queues and dead letters; no calls"
    return "everything in the shop"


def plan(namespace: str, people: Sequence[tuple[str | None, str]] = ()) -> list[Login]:
    """One login per role (plus the service and the notifier), and one per (person, role) asked for."""
    wanted: list[tuple[str | None, str]] = [(None, role) for role in (*ROLES, SERVICE_ROLE)]
    for person, role in people:
        if role not in ROLES:
            raise ProvisionError(f"'{role}' is not a role; use one of: {', '.join(ROLES)}.")
        if person is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", person):
            raise ProvisionError(f"'{person}' cannot be a login name: use letters, digits, '-' or '_'.")
        wanted.append((person, role))
    logins = []
    for person, role in wanted:
        user = user_name(namespace, role, person)
        logins.append(Login(user, role, permissions_for(namespace, role, user)))
    logins.append(Login(user_name(namespace, NOTIFIER_ROLE), NOTIFIER_ROLE, notifier_permissions(namespace)))
    return logins


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_password(length: int = 24) -> str:
    # Letters and digits only: a password starting with "-" would be read by rabbitmqctl as an option.
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def definitions(vhost: str, logins: Sequence[Login], passwords: dict[str, str]) -> dict[str, Any]:
    """A RabbitMQ definitions document for the vhost, its users and their permissions."""
    return {
        "vhosts": [{"name": vhost}],
        "users": [
            {"name": login.user, "password_hash": password_hash(passwords[login.user]),
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}
            for login in logins
        ],
        "permissions": [
            {"user": login.user, "vhost": vhost, "configure": login.permissions.configure,
             "write": login.permissions.write, "read": login.permissions.read}
            for login in logins
        ],
        "topic_permissions": [
            {"user": login.user, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
            for login in logins for exchange, (write, read) in login.permissions.topics.items()
        ],
    }


def write_definitions(path: Path, vhost: str, logins: Sequence[Login]) -> dict[str, str]:
    """Write the definitions file (mode 0600: it holds password hashes); returns the new passwords."""
    passwords = {login.user: new_password() for login in logins}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(definitions(vhost, logins, passwords), indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return passwords


class Rabbitmqctl:
    """Runs rabbitmqctl; each failure becomes a ProvisionError with the tool's own words."""

    def __init__(self, command: Sequence[str] = ("rabbitmqctl",), env: dict[str, str] | None = None) -> None:
        self.command = list(command)
        self.env = env

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run([*self.command, *args], capture_output=True, text=True, env=self.env,
                                    timeout=120, check=False)
        except FileNotFoundError:
            raise ProvisionError(
                f"{self.command[0]} was not found: run this on the broker's machine (as root or the rabbitmq "
                "user), or use --definitions FILE and import that file there."
            ) from None
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ProvisionError(f"rabbitmqctl {' '.join(args[:1])} failed: {detail[-1] if detail else 'no output'}")
        return result


def apply(vhost: str, logins: Sequence[Login], run: Runner, say: Callable[[str], None]) -> dict[str, str]:
    """Create what is missing and (re)set every permission; safe to run twice. Returns new users' passwords."""
    vhosts = set(run(["list_vhosts", "--quiet", "--no-table-headers"]).stdout.split())
    if vhost in vhosts:
        say(f"vhost {vhost}: already there")
    else:
        run(["add_vhost", vhost])
        say(f"vhost {vhost}: created")
    users = {line.split()[0] for line in run(["list_users", "--quiet", "--no-table-headers"]).stdout.splitlines()
             if line.strip()}
    created: dict[str, str] = {}
    for login in logins:
        if login.user in users:
            say(f"user {login.user} ({login.role}): already there, password unchanged")
        else:
            password = new_password()
            run(["add_user", login.user, password])
            created[login.user] = password
            say(f"user {login.user} ({login.role}): created")
        p = login.permissions
        run(["set_permissions", "-p", vhost, login.user, p.configure, p.write, p.read])
        for exchange, (write, read) in p.topics.items():
            run(["set_topic_permissions", "-p", vhost, login.user, exchange, write, read])
        say(f"  permissions: {what_it_may(login.role)}")
    return created
