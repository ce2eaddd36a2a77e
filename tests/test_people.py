"""Logins become words for people: never a login in what a person reads."""

from __future__ import annotations

import pytest

from app.client.people import person_name


@pytest.mark.parametrize(("login", "words"), [
    ("kiltshop.shipping.dougie", "Dougie (shipping)"),
    ("kiltshop.store.morag_ross", "Morag Ross (web store)"),
    ("kiltshop.sales", "the sales desk"),
    ("kiltshop.workshop", "the workshop"),
    ("kiltshop.service", "the shop"),
    ("guest", "someone on this computer"),
    ("anonymous", "someone"),
    (None, "someone"),
    ("somebody.unknown", "someone else"),
])
def test_person_name(login: str | None, words: str) -> None:
    assert person_name(login) == words
