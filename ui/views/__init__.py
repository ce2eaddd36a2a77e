"""One view per role: sales (contacts), workshop (order board), shipping (pickups), store (customer)."""
