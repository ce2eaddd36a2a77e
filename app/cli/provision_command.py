"""`kiltshop provision`: a vhost, per-role logins and their permissions on a broker."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from app.config import Settings
from app.security.provisioning import Rabbitmqctl, apply, plan, write_definitions


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("provision", parents=[common],
                       help="set up this shop's vhost, logins and permissions on a broker")
    p.add_argument("--vhost", help="the broker vhost for this shop (default: the namespace)")
    p.add_argument("--person", action="append", default=[], metavar="NAME:ROLE",
                   help="an extra login for one person, e.g. dougie:shipping (repeatable)")
    p.add_argument("--definitions", metavar="FILE",
                   help="write a RabbitMQ definitions file (e.g. packaging/rabbitmq-definitions.json) instead")
    p.add_argument("--rabbitmqctl", default="rabbitmqctl", help="the rabbitmqctl command to run (default: %(default)s)")
    p.add_argument("--node", help="the broker node, passed to rabbitmqctl -n")


def run(settings: Settings, args: argparse.Namespace) -> int:
    people = []
    for item in args.person:
        name, sep, role = item.partition(":")
        if not sep:
            raise ValueError(f"--person {item!r} must be NAME:ROLE, e.g. dougie:shipping")
        people.append((name, role))
    vhost = args.vhost or settings.namespace
    logins = plan(settings.namespace, people)
    if args.definitions:
        passwords = write_definitions(Path(args.definitions), vhost, logins)
        if args.json:
            print(json.dumps({"definitions": args.definitions, "vhost": vhost, "passwords": passwords}, indent=2))
            return 0
        print(f"Wrote {args.definitions} (vhost {vhost}, {len(logins)} logins; readable by you only).")
        print(f"Import it on the broker's machine: rabbitmqctl import_definitions {shlex.quote(args.definitions)}")
        created = passwords
    else:
        command = shlex.split(args.rabbitmqctl) + (["-n", args.node] if args.node else [])
        created = apply(vhost, logins, Rabbitmqctl(command), print if not args.json else (lambda _t: None))
        if args.json:
            print(json.dumps({"vhost": vhost, "logins": [{"user": x.user, "role": x.role} for x in logins],
                              "new_passwords": created}, indent=2))
            return 0
    if created:
        print("\nNew logins and their passwords (shown once: give each to its person, or keep them in the")
        print("keyring; the app's start dialog stores them there):")
        for user, password in created.items():
            print(f"  {user}  {password}")
        print(f"\nConnect with e.g. --broker-url amqp://{next(iter(created))}:PASSWORD@BROKER:5672/{vhost}")
    else:
        print("\nNothing new: every login was already there (passwords unchanged).")
    return 0
