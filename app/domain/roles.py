"""Who may do what: the roles, their words, and the check (the table itself is declared with each method in
app/contract/methods.py, documented in docs/contract.md, and enforced by the broker too, per user)."""

from __future__ import annotations

from app.contract.methods import PERMISSIONS, methods_of
from app.contract.names import Role
from app.domain.errors import ForbiddenError

__all__ = ["ANONYMOUS", "NOTIFIER_ROLE", "PERMISSIONS", "ROLES", "ROLE_WORDS", "SERVICE_ROLE", "Role", "authorize",
           "methods_of", "role_for_user", "user_name"]

# The roles are part of the wire (login names); who may call which method is declared with each method in
# app/contract/methods.py, and PERMISSIONS is derived there.
ROLES: tuple[str, ...] = tuple(r.value for r in Role)
SERVICE_ROLE = "service"
NOTIFIER_ROLE = "notifier"  # the mail notifier's broker login: no calls at all
ANONYMOUS = "anonymous"  # what a request without a user_id property is taken to come from

ROLE_WORDS: dict[str, str] = {
    Role.SALES: "the sales desk",
    Role.WORKSHOP: "the workshop",
    Role.SHIPPING: "shipping and billing",
    Role.STORE: "the web store",
}


def authorize(role: str | None, method: str) -> None:
    """Refuse a call the role may not make; role None means development mode (everything allowed)."""
    if role is None:
        return
    if role not in PERMISSIONS.get(method, frozenset()):
        who = ROLE_WORDS.get(role, f"the '{role}' login")
        raise ForbiddenError(f"{who[0].upper()}{who[1:]} may not use {method}.", {"role": role, "method": method})


def role_for_user(user: str, namespace: str, dev_mode: bool) -> str | None:
    """The role a broker login acts as: `<namespace>.<role>` or `<namespace>.<role>.<person>`.

    None means development mode (the broker's own `guest`, only when the service itself runs as guest).
    Anyone else is refused: the broker should not have let them in, so the service does not either.
    """
    if dev_mode and user in ("guest", ANONYMOUS):
        return None
    if user == ANONYMOUS:
        raise ForbiddenError("The request carries no user_id, so the shop cannot tell who is asking.", {})
    parts = user.split(".")
    if parts == [namespace, NOTIFIER_ROLE]:
        raise ForbiddenError("The notifier's login only sends mails; it may not use the shop's calls.",
                             {"user": user})
    if len(parts) in (2, 3) and parts[0] == namespace and (parts[1] in ROLES or parts[1] == SERVICE_ROLE):
        return parts[1]
    raise ForbiddenError(
        f"The login '{user}' is not one of this shop's logins, so it may not use the shop.", {"user": user}
    )


def user_name(namespace: str, role: str, person: str | None = None) -> str:
    return f"{namespace}.{role}" + (f".{person}" if person else "")
