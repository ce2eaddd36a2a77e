"""Money is integer pence on the wire and in the store; people read pounds and pence."""

from __future__ import annotations


def money(pence: int) -> str:
    """4850012 -> '£48,500.12'."""
    sign = "-" if pence < 0 else ""
    pence = abs(int(pence))
    return f"{sign}£{pence // 100:,}.{pence % 100:02d}"
