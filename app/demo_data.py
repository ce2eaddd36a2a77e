"""A realistic small shop: about 30 customers and 50 orders in every state, made through the contract."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from app.client.shop_client import ShopClient

FIRST = ["Morag", "Hamish", "Isla", "Callum", "Eilidh", "Fraser", "Kirsty", "Angus", "Mhairi", "Ewan",
         "Catriona", "Ruaridh", "Ailsa", "Duncan", "Fiona", "Lachlan", "Shona", "Alasdair", "Iona", "Murdo"]
LAST = ["MacLeod", "Campbell", "MacDonald", "Stewart", "Fraser", "MacGregor", "Robertson", "Cameron",
        "MacKenzie", "Munro", "Ross", "Grant", "Sinclair", "Buchanan", "MacLean", "Drummond"]
PLACES = [("Tyndrum", "FK20 8RY"), ("Bridge of Orchy", "PA36 4AD"), ("Dalmally", "PA33 1AA"),
          ("Crianlarich", "FK20 8QN"), ("Killin", "FK21 8UH"), ("Oban", "PA34 4LW"), ("Fort William", "PH33 6AN"),
          ("Glencoe", "PH49 4HX"), ("Inveraray", "PA32 8UD"), ("Callander", "FK17 8BN"), ("Perth", "PH1 5LU")]
STREETS = ["Main Street", "Station Road", "Church Brae", "Loch View", "Mill Lane", "Hillside Terrace"]
TARTANS = ["MacGregor", "Campbell of Breadalbane", "Black Watch", "Royal Stewart", "MacLeod of Harris",
           "Fraser Hunting", "Buchanan", "Isle of Skye", "Pride of Scotland", "Glen Orchy"]
ITEMS = [("Eight-yard kilt", 48000), ("Five-yard casual kilt", 32000), ("Kilt pin", 2500), ("Sporran", 9500),
         ("Kilt hose", 2200), ("Fly plaid", 14000), ("Tartan trews", 21000), ("Child's kilt", 15500)]
NOTES = ["", "", "Wedding on the 14th, needed by the 10th.", "Pleats to the stripe, please.",
         "Will collect from the shop.", "Gift — no prices on the packing slip.", "Heavyweight 16oz cloth."]

# How many orders end up in each state (about 50 in all).
STATE_PLAN = [("pending", 14), ("in_progress", 10), ("completed", 9), ("collected", 12), ("cancelled", 5)]
MOVES = {"pending": [], "in_progress": ["start"], "completed": ["start", "complete"],
         "collected": ["start", "complete", "collect"], "cancelled": ["cancel"]}


def make_contacts(rng: random.Random, count: int = 30) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(people) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        if name in seen:
            continue
        seen.add(name)
        town, postcode = rng.choice(PLACES)
        people.append({
            "name": name,
            "email": f"{first.lower()}.{last.lower()}@example.co.uk",
            "phone": f"07{rng.randint(700, 999)} {rng.randint(100000, 999999)}",
            "address": f"{rng.randint(1, 60)} {rng.choice(STREETS)}, {town}, {postcode}",
            "measurements": {"waist_cm": float(rng.randint(70, 115)), "hip_cm": float(rng.randint(85, 125)),
                             "length_cm": float(rng.randint(55, 66))},
            "notes": rng.choice(["", "", "Prefers a box pleat.", "Regular customer since 2019."]),
        })
    return people


def make_items(rng: random.Random) -> list[dict[str, Any]]:
    chosen = rng.sample(ITEMS, rng.randint(1, 3))
    return [{"description": d, "tartan": rng.choice(TARTANS) if "kilt" in d.lower() or "plaid" in d.lower()
             or "trews" in d.lower() else "", "quantity": 1 if "kilt" in d.lower() else rng.randint(1, 2),
             "unit_price_pence": p} for d, p in chosen]


async def load_demo_data(client: ShopClient, seed: int = 1746,
                         progress: Callable[[str], None] | None = None) -> dict[str, int]:
    rng = random.Random(seed)
    contacts = [await client.call("contacts.create", c) for c in make_contacts(rng)]
    if progress:
        progress(f"{len(contacts)} customers added")
    orders = 0
    for status, count in STATE_PLAN:
        for _ in range(count):
            contact = rng.choice(contacts)
            order = await client.call("orders.place", {"contact_id": contact["id"], "items": make_items(rng),
                                                       "notes": rng.choice(NOTES)})
            for action in MOVES[status]:
                order = await client.call(f"orders.{action}", {"id": order["id"], "version": order["version"]})
            orders += 1
    if progress:
        progress(f"{orders} orders placed")
    return {"contacts": len(contacts), "orders": orders}
