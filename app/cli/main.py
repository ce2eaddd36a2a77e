"""`kiltshop`: the service, the desktop app, and a CLI for scripts and the shipping guy's terminal.

Errors come out as one plain line and a non-zero exit; --debug shows the details behind them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from app import __version__
from app.cli import dead_command, export_command, import_command, notifier_command, provision_command
from app.cli import formatting as fmt
from app.client.shop_client import CallError, ShopClient
from app.config import ConfigError, Settings, load_settings
from app.contract import EVENTS
from app.domain.roles import ROLES
from app.messaging.connection import BrokerUnavailable
from app.security.broker_password import with_password
from app.security.provisioning import ProvisionError

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class UsageError(Exception):
    pass


# -- argument parsing ---------------------------------------------------------------------------------


def _common_options(suppress_defaults: bool) -> argparse.ArgumentParser:
    # The options may come before or after the command. A subcommand's parser must not set their defaults:
    # it would overwrite what was given before the command (`kiltshop --broker-url X contacts list`).
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS if suppress_defaults else None)
    common.add_argument("--broker-url", help="AMQP URL of the broker (env KILTSHOP_BROKER_URL)")
    common.add_argument("--namespace", help="name prefix of this shop on the broker (env KILTSHOP_NAMESPACE)")
    common.add_argument("--call-timeout", metavar="SECONDS",
                        help="how long to wait for the service's answer (env KILTSHOP_CALL_TIMEOUT; default 10)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    common.add_argument("--debug", action="store_true", help="show details behind errors")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiltshop", description="MacGrudder's kilt shop.",
                                     parents=[_common_options(False)])
    common = _common_options(True)
    parser.add_argument("--version", action="version", version=f"kiltshop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("service", parents=[common], help="run the shop service")
    p.add_argument("--database-url", help="SQLAlchemy URL of the store (env KILTSHOP_DATABASE_URL)")
    p.add_argument("--timezone", help="the shop's time zone, for the days of the billing totals (env "
                   "KILTSHOP_TIMEZONE; default Europe/London)")

    p = sub.add_parser("app", parents=[common], help="open the desktop app")
    p.add_argument("--role", choices=list(ROLES))
    p.add_argument("--all-roles", action="store_true", help="one window per role, side by side")

    sub.add_parser("ping", parents=[common], help="check that the service answers")

    contacts = sub.add_parser("contacts", parents=[common], help="customer contacts").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = contacts.add_parser("list", parents=[common], help="list contacts")
    p.add_argument("--search", "-s", help="text to look for in name, e-mail, phone or address")
    p = contacts.add_parser("show", parents=[common], help="one contact with its history")
    p.add_argument("id", type=int)
    for name in ("add", "edit"):
        p = contacts.add_parser(name, parents=[common], help=f"{name} a contact")
        if name == "edit":
            p.add_argument("id", type=int)
            p.add_argument("--version", type=int, help="the version you saw (default: the current one)")
        p.add_argument("--name", required=(name == "add"))
        for field in ("email", "phone", "address", "notes"):
            p.add_argument(f"--{field}")
        for m in ("waist", "hip", "length"):
            p.add_argument(f"--{m}", type=float, metavar="CM", help=f"{m} in cm")

    orders = sub.add_parser("orders", parents=[common], help="orders").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = orders.add_parser("list", parents=[common], help="list orders")
    p.add_argument("--status", action="append", help="only this status (repeatable)")
    p.add_argument("--search", "-s")
    p.add_argument("--contact", type=int)
    p = orders.add_parser("show", parents=[common], help="one order with its history")
    p.add_argument("order", help="order number (K-0042) or id")
    item_help = "an item as 'description|tartan|quantity|price in pounds', e.g. 'Kilt|MacGregor|1|450'"
    p = orders.add_parser("place", parents=[common], help="place an order")
    p.add_argument("--contact", type=int, required=True)
    p.add_argument("--item", action="append", required=True, help=item_help)
    p.add_argument("--notes", default="")
    p = orders.add_parser("amend", parents=[common], help="change a pending order")
    p.add_argument("order")
    p.add_argument("--item", action="append", help=item_help + " (replaces all items)")
    p.add_argument("--notes")
    p.add_argument("--version", type=int)
    for name, what in (("cancel", "cancel a pending order"), ("start", "start work on an order"),
                       ("complete", "mark an order completed"), ("collect", "mark an order collected")):
        p = orders.add_parser(name, parents=[common], help=what)
        p.add_argument("order")
        p.add_argument("--version", type=int)

    p = sub.add_parser("pickups", parents=[common], help="what is ready to collect now, with totals per day")
    p.add_argument("--billing", action="store_true",
                   help="the billing summary: ready and collected orders, items, amounts, totals per day")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="with --billing: orders ready on this day or later")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="with --billing: orders ready on this day or earlier")
    p = sub.add_parser("watch", parents=[common], help="print events as they happen")
    p.add_argument("events", nargs="*", help=f"event keys or patterns (default all): {', '.join(EVENTS)}")
    p = sub.add_parser("demo-data", parents=[common], help="fill the shop with a realistic demo")
    p.add_argument("--if-empty", action="store_true", help="only when the shop has no contacts yet")
    provision_command.add_parser(sub, common)
    dead_command.add_parser(sub, common)
    import_command.add_parser(sub, common)
    export_command.add_parser(sub, common)
    notifier_command.add_parser(sub, common)
    return parser


# -- commands -----------------------------------------------------------------------------------------


def parse_item(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) != 4:
        raise UsageError(f"--item {text!r} needs four parts: description|tartan|quantity|price")
    description, tartan, quantity, price = parts
    if not quantity.isdigit():
        raise UsageError(f"the quantity in --item {text!r} must be a whole number")
    try:
        pence = fmt.parse_money(price)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {"description": description, "tartan": tartan, "quantity": int(quantity), "unit_price_pence": pence}


async def find_order(client: ShopClient, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        result: dict[str, Any] = await client.call("orders.get", {"id": int(ref)})
        return result
    page = await client.call("orders.list", {"q": ref, "limit": 50})
    for order in page["items"]:
        if order["number"].lower() == ref.lower():
            found: dict[str, Any] = await client.call("orders.get", {"id": order["id"]})
            return found
    raise CallError("not_found", f"There is no order {ref}.")


def emit(args: argparse.Namespace, value: Any, human: str) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False) if args.json else human)


async def contact_names(client: ShopClient) -> dict[int, str]:
    items, _ = await client.list_all("contacts.list")
    return {c["id"]: c["name"] for c in items}


async def cmd_contacts(client: ShopClient, args: argparse.Namespace) -> None:
    if args.action == "list":
        params = {"q": args.search} if args.search else {}
        items, seq = await client.list_all("contacts.list", params)
        emit(args, {"items": items, "seq": seq}, fmt.contacts_table(items))
    elif args.action == "show":
        contact = await client.call("contacts.get", {"id": args.id})
        emit(args, contact, fmt.contact_details(contact))
    else:
        fields: dict[str, Any] = {k: getattr(args, k) for k in ("name", "email", "phone", "address", "notes")
                                  if getattr(args, k) is not None}
        measures = {f"{m}_cm": getattr(args, m) for m in ("waist", "hip", "length") if getattr(args, m) is not None}
        if args.action == "add":
            if measures:
                fields["measurements"] = measures
            contact = await client.call("contacts.create", fields)
            emit(args, contact, f"Added contact {contact['id']}: {contact['name']}.")
            return
        current = await client.call("contacts.get", {"id": args.id})
        if measures:
            fields["measurements"] = {**current["measurements"], **measures}
        if not fields:
            raise UsageError("nothing to change: give at least one of --name, --email, --phone, ...")
        version = args.version or current["version"]
        contact = await client.call("contacts.update", {"id": args.id, "version": version, **fields})
        emit(args, contact, f"Saved {contact['name']} (now version {contact['version']}).")


async def cmd_orders(client: ShopClient, args: argparse.Namespace) -> None:
    if args.action == "list":
        params: dict[str, Any] = {}
        if args.status:
            params["status"] = args.status
        if args.search:
            params["q"] = args.search
        if args.contact:
            params["contact_id"] = args.contact
        items, seq = await client.list_all("orders.list", params)
        if args.json:
            emit(args, {"items": items, "seq": seq}, "")
        else:
            print(fmt.orders_table(items, await contact_names(client)))
        return
    if args.action == "place":
        order = await client.call("orders.place", {"contact_id": args.contact, "notes": args.notes,
                                                   "items": [parse_item(i) for i in args.item]})
        emit(args, order, f"Placed order {order['number']} ({fmt.money(order['total_pence'])}).")
        return
    order = await find_order(client, args.order)
    if args.action == "show":
        emit(args, order, fmt.order_details(order))
        return
    version = args.version or order["version"]
    if args.action == "amend":
        params = {"id": order["id"], "version": version}
        if args.item:
            params["items"] = [parse_item(i) for i in args.item]
        if args.notes is not None:
            params["notes"] = args.notes
        order = await client.call("orders.amend", params)
        emit(args, order, f"Changed order {order['number']} (now {fmt.money(order['total_pence'])}).")
        return
    order = await client.call(f"orders.{args.action}", {"id": order["id"], "version": version})
    emit(args, order, f"Order {order['number']} is now {fmt.STATUS_WORDS[order['status']]}.")


async def cmd_pickups(client: ShopClient, args: argparse.Namespace) -> None:
    """What is ready to collect now (one snapshot: count, total and days are those of the first page)."""
    method, params = "pickups.list", {}
    if args.billing:
        method = "pickups.billing"
        params = {k: v for k in ("since", "until") if (v := getattr(args, k))}
    elif args.since or args.until:
        raise UsageError("--since and --until go with --billing")
    first: dict[str, Any] = await client.call(method, {**params, "limit": 500})
    items, page = list(first["items"]), first
    while page.get("next_cursor"):
        page = await client.call(method, {**params, "limit": 500, "cursor": page["next_cursor"]})
        items.extend(page["items"])
    result = {"items": items, "seq": first["seq"], "count": first["count"],
              "total_due_pence": first["total_due_pence"], "days": first["days"]}
    if args.billing:
        emit(args, result, fmt.billing_table(items, first["days"]))
    else:
        days = fmt.days_table(first["days"])
        emit(args, result, fmt.pickups_table(items) + (f"\n\nReady per day:\n{days}" if items and days else ""))


async def cmd_watch(client: ShopClient, args: argparse.Namespace) -> None:
    def show(event: dict[str, Any]) -> None:
        print(json.dumps(event, ensure_ascii=False) if args.json else fmt.event_line(event), flush=True)

    await client.subscribe(show, args.events or ["#"])
    if not args.json:
        print(f"Watching events on {client.names.events_exchange} (Ctrl+C to stop)...", flush=True)
    await asyncio.Event().wait()


async def cmd_ping(client: ShopClient, args: argparse.Namespace) -> None:
    page = await client.call("contacts.list", {"limit": 1}, timeout=5)
    emit(args, {"ok": True, "seq": page["seq"]}, f"The shop service answers (event seq {page['seq']}).")


async def cmd_demo_data(client: ShopClient, args: argparse.Namespace) -> None:
    from app.demo_data import load_demo_data

    if args.if_empty:
        page = await client.call("contacts.list", {"limit": 1})
        if page["items"]:
            emit(args, {"skipped": True}, "The shop already has contacts; demo data not added.")
            return
    counts = await load_demo_data(client, progress=None if args.json else print)
    emit(args, counts, f"Demo shop ready: {counts['contacts']} customers, {counts['orders']} orders.")


CLIENT_COMMANDS: dict[str, Callable[[ShopClient, argparse.Namespace], Awaitable[None]]] = {
    "contacts": cmd_contacts,
    "orders": cmd_orders,
    "pickups": cmd_pickups,
    "watch": cmd_watch,
    "ping": cmd_ping,
    "demo-data": cmd_demo_data,
    "notices": notifier_command.cmd_notices,
}


async def run_client_command(settings: Settings, args: argparse.Namespace) -> None:
    client = ShopClient(settings.broker_url, settings.namespace, app_id=f"kiltshop-cli/{args.command}",
                        timeout=settings.call_timeout)
    await client.connect()
    try:
        await CLIENT_COMMANDS[args.command](client, args)
    finally:
        await client.close()


def run_service(settings: Settings) -> None:
    from app.service.shop_service import ShopService

    # main() has already configured logging for client commands (warnings only); the service logs more.
    logging.basicConfig(level=min(logging.INFO, logging.getLogger().level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if settings.broker_user == "guest":
        logging.getLogger("kiltshop").warning(
            "Development mode: connected as the broker's 'guest' user. Fine on one machine, not for real use."
        )
    asyncio.run(ShopService(settings).run_until_signalled())


APP_GROUP = "kiltshop.commands"  # entry points the desktop app registers (pyproject.toml); `app` opens it
APP_DEFAULT = "ui.launch:run_app"  # the same, for a checkout run without installing it


def open_app(settings: Settings, role: str | None, all_roles: bool) -> int:
    """`kiltshop app`: the desktop app lives with the UI package, which plugs itself in as an entry point; the
    command line knows it only by that name, so it runs without the UI installed."""
    found = entry_points(group=APP_GROUP, name="app")
    entry = next(iter(found), None) or EntryPoint(name="app", value=APP_DEFAULT, group=APP_GROUP)
    try:
        run_app = entry.load()
    except ImportError as exc:
        raise UsageError(
            f"The desktop app is not installed here ({exc.name or exc} is missing). Install kiltshop with its "
            "desktop app, or use the other kiltshop commands."
        ) from None
    result: int = run_app(settings, role=role, all_roles=all_roles)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.debug and args.command not in ("service", "app"):
        # The broker libraries log every failed attempt; a command says what went wrong in one line itself.
        for name in ("aiormq", "aio_pika"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        settings = load_settings(broker_url=args.broker_url, namespace=args.namespace,
                                 database_url=getattr(args, "database_url", None),
                                 call_timeout=getattr(args, "call_timeout", None),
                                 timezone=args.timezone if args.command == "service" else None)
        if args.command not in ("app", "provision"):  # the app asks in its sign-in dialog
            settings = with_password(settings)
        if args.command == "service":
            run_service(settings)
        elif args.command == "dead":
            return dead_command.run(settings, args)
        elif args.command == "import":
            return import_command.run(settings, args)
        elif args.command == "export":
            return export_command.run(settings, args)
        elif args.command == "notifier":
            return notifier_command.run(settings, args)
        elif args.command == "provision":
            return provision_command.run(settings, args)
        elif args.command == "app":
            return open_app(settings, role=args.role, all_roles=args.all_roles)
        else:
            asyncio.run(run_client_command(settings, args))
        return 0
    except KeyboardInterrupt:
        return 130
    except CallError as exc:
        print(f"kiltshop: {exc.message}", file=sys.stderr)
        return EXIT_UNAVAILABLE if exc.code == "unavailable" else EXIT_REFUSED
    except (BrokerUnavailable, ConfigError) as exc:
        print(f"kiltshop: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (UsageError, ValueError, ProvisionError) as exc:
        print(f"kiltshop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if args.debug:
            raise
        print(f"kiltshop: something unexpected went wrong ({type(exc).__name__}: {exc}). "
              "Run again with --debug for details.", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
