"""Who did it, in words for people: a broker login turned into a name and a role, never the login itself.

Logins are `<namespace>.<role>` or `<namespace>.<role>.<person>` (app/domain/roles.py); the broker's development
account `guest` and a request without user_id (`anonymous`) have no person behind them that we know of."""

from __future__ import annotations

from app.domain.roles import ANONYMOUS, ROLE_WORDS, ROLES, SERVICE_ROLE

_ROLE_SHORT = {"sales": "sales", "workshop": "workshop", "shipping": "shipping", "store": "web store"}


def person_name(login: str | None) -> str:
    """'Dougie (shipping)' for kiltshop.shipping.dougie, 'the sales desk' for kiltshop.sales, 'the web store'
    for kiltshop.store, 'the shop' for the service, 'someone on this computer' for guest."""
    if not login or login == ANONYMOUS:
        return "someone"
    if login == "guest":
        return "someone on this computer"
    parts = login.split(".")
    if len(parts) == 3 and parts[1] in ROLES:
        person = parts[2].replace("_", " ").replace("-", " ").strip().title() or parts[2]
        return f"{person} ({_ROLE_SHORT[parts[1]]})"
    if len(parts) == 2 and parts[1] in ROLES:
        return ROLE_WORDS[parts[1]]
    if len(parts) >= 2 and parts[1] in (SERVICE_ROLE, "notifier"):
        return "the shop"
    return "someone else"
