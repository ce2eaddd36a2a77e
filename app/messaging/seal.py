"""The service's seal on a dead letter: an HMAC over who sent the request and what it said.

`kiltshop dead replay` runs as the operator's login, but a replayed request must run as its original sender
(their rights, their requests-ledger entry). The broker cannot carry another login's user_id, so the service
records the sender in the dead letter and seals (sender, routing key, message_id, body) with a key only the
service processes hold (kept in the shop's database: ShopStore.seal_key). A replay whose seal does not hold is
refused: nobody can make the service run a request of their own making as someone else.
"""

from __future__ import annotations

import hashlib
import hmac


def _mac(key: bytes, sender: str, routing_key: str, message_id: str, body: bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (sender.encode("utf-8"), routing_key.encode("utf-8"), message_id.encode("utf-8"), body):
        mac.update(len(part).to_bytes(8, "big"))  # lengths first, so no two splits of the same bytes agree
        mac.update(part)
    return mac.hexdigest()


def seal(key: bytes, sender: str, routing_key: str, message_id: str, body: bytes) -> str:
    return _mac(key, sender, routing_key, message_id, body)


def verify(key: bytes, given: str, sender: str, routing_key: str, message_id: str, body: bytes) -> bool:
    return hmac.compare_digest(given, _mac(key, sender, routing_key, message_id, body))
