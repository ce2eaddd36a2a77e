"""AMQP plumbing (aio-pika): connections, topology, RPC server and client, event subscriptions, outbox relay.

Bodies on our wire are JSON only (never pickle)."""

from app.messaging.frame_guard import install as _install_frame_guard

# Before any connection exists: a property pamqp cannot decode must not close a connection (frame_guard.py).
_install_frame_guard()
