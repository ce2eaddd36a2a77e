"""Words and small HTML the views share: money, statuses, an order's items."""

from __future__ import annotations

import html
from typing import Any

from app.domain import order_states
from app.domain.money import money

# The domain's words, as a heading or a column starts them.
STATUS_WORDS = {status: word[:1].upper() + word[1:] for status, word in order_states.STATUS_WORDS.items()}


def order_items_html(order: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{i['quantity']} ×</td><td>{html.escape(i['description'])}</td>"
        f"<td>{html.escape(i.get('tartan') or '')}</td><td align='right'>{money(i['unit_price_pence'])}</td>"
        f"<td align='right'>{money(i['quantity'] * i['unit_price_pence'])}</td></tr>"
        for i in order["items"]
    )
    notes = f"<p><b>Notes:</b> {html.escape(order['notes'])}</p>" if order.get("notes") else ""
    return (
        "<table cellspacing='4'><tr><th></th><th align='left'>Item</th><th align='left'>Tartan</th>"
        "<th align='right'>Each</th><th align='right'>Amount</th></tr>"
        f"{rows}<tr><td></td><td colspan='3'><b>Total</b></td><td align='right'><b>"
        f"{money(order['total_pence'])}</b></td></tr></table>{notes}"
    )


# -- sales and store (ui-sales) ----------------------------------------------------------------------------

KEEP_EDITING = "Keep editing"
DROP_CHANGES = "Drop my changes"


def html_text(text: str | None) -> str:
    return html.escape(text or "")


def ask_to_drop(parent: Any, sentence: str) -> Any:
    """"You have not saved … Drop them?" with Drop / Keep editing (Keep is the default, for Enter).
    Open it with `await run_dialog(box)`; the Drop button has the DestructiveRole."""
    from PySide6.QtWidgets import QMessageBox  # here, so that text.py stays importable without Qt

    box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes", f"{sentence} Drop them?", parent=parent)
    box.setObjectName("discardBox")
    box.addButton(DROP_CHANGES, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(KEEP_EDITING, QMessageBox.ButtonRole.RejectRole))
    return box
