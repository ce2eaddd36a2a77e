"""Who may do what: the one role table (documented in docs/contract.md, enforced by the service and,
through per-user permissions, by the broker itself)."""

from __future__ import annotations

from app.domain.errors import ForbiddenError

ROLES: tuple[str, ...] = ("sales", "workshop", "shipping", "store")
SERVICE_ROLE = "service"
NOTIFIER_ROLE = "notifier"  # the mail notifier's broker login: no calls at all
ANONYMOUS = "anonymous"  # what a request without a user_id property is taken to come from

_READ = {"contacts.list", "contacts.get", "orders.list", "orders.get"}
_CUSTOMER_CHANGES = {"contacts.create", "contacts.update", "orders.place", "orders.amend", "orders.cancel"}

# method -> roles allowed to call it
PERMISSIONS: dict[str, frozenset[str]] = {
    **{m: frozenset(ROLES) for m in _READ},
    **{m: frozenset({"sales", "store"}) for m in _CUSTOMER_CHANGES},
    "orders.start": frozenset({"workshop"}),
    "orders.complete": frozenset({"workshop"}),
    "orders.collect": frozenset({"shipping"}),
    "pickups.list": frozenset({"workshop", "shipping"}),
    # the possible-duplicates queue and merging contacts: the sales desk only
    **{m: frozenset({"sales"}) for m in ("contacts.duplicates", "contacts.flag_duplicate", "contacts.keep_apart",
                                         "contacts.merge")},
    "pickups.billing": frozenset({"workshop", "shipping"}),
    # each caller reads and changes only their own notice settings (the service keys them by user_id)
    "notices.settings.get": frozenset({"sales", "workshop", "shipping"}),
    "notices.settings.set": frozenset({"sales", "workshop", "shipping"}),
}

ROLE_WORDS = {
    "sales": "the sales desk",
    "workshop": "the workshop",
    "shipping": "shipping and billing",
    "store": "the web store",
}


def methods_of(role: str) -> list[str]:
    return sorted(m for m, roles in PERMISSIONS.items() if role in roles)


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
