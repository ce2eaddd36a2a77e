"""AMQP plumbing (aio-pika): connections, topology, RPC server and client, event subscriptions, outbox relay.

Bodies on our wire are JSON only (never pickle)."""
