"""The public contract documents against the code: docs/contract.md, docs/asyncapi.yaml and app/.

Each check is a function of the document paths that returns a list of problems, so a check can be run on
a changed copy of a document (see the tests at the end, which prove the checks can fail).

What is held together:
- the method registry (app/contract/methods.py) == handler routes == PERMISSIONS == every per-method entry
  of asyncapi (channel, operation, reply, messages, Params), the whole file committed as
  `python -m app.contract.asyncapi --write` makes it from docs/asyncapi.base.yaml, and every documented
  example request is valid JSON Schema (checked with the jsonschema library); a method declared only in the
  registry gets all its asyncapi entries;
- methods, mutating methods, events, error codes: app/contract == contract.md == asyncapi;
  every event key the store can emit is in EVENTS;
- broker names and bindings: app/contract.py Names == what app/messaging/topology.py declares == both docs;
- parameters: for every method, the asyncapi params schema (names, required, types, limits, nullability,
  nested items and measurements) is checked against the real handler, which is called with the store
  replaced by an object that fails when touched (the handlers validate before they touch the store);
  contract.md parameter tables == asyncapi params schemas; every example request in both docs passes;
- shapes: entity field tables in contract.md == asyncapi schemas == what contact_entity/order_entity make;
  every method's real result (a real SQLite store), every event body and the conflict details conform
  to the documented schemas, with exactly the documented keys;
- event properties, seq without gaps, the order life cycle, dead-letter headers, page limits.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import typing
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import jsonschema
import pytest
import yaml
from sqlalchemy import String

from app import contract
from app.contract import (
    DEFAULT_NAMESPACE,
    DEFAULT_PAGE_SIZE,
    ERROR_CODES,
    EVENTS,
    MAX_PAGE_SIZE,
    METHODS,
    MUTATING_METHODS,
    PERMISSIONS,
    REGISTRY,
    Method,
    Names,
    Role,
    is_valid_namespace,
    method_group,
)
from app.contract import asyncapi as generator
from app.domain import order_states
from app.domain import params as param_models
from app.domain.errors import ConflictError, InvalidError, LockedError, ShopError
from app.domain.notices import default_settings
from app.domain.validation import CONTACT_FIELDS, ITEM_FIELDS, MEASUREMENT_FIELDS
from app.messaging import rpc_server, topology
from app.messaging.outbox_relay import OutboxRelay
from app.messaging.rpc_server import Call
from app.messaging.wire import MAX_BODY_BYTES
from app.service.handlers import ShopHandlers
from app.store import contacts as contact_store
from app.store import duplicate_store
from app.store import orders as order_store
from app.store import schema as tables
from app.store.duplicate_store import duplicate_entity
from app.store.outbox import Outbox
from app.store.shop_store import ShopStore, contact_entity, order_entity

REPO = Path(__file__).resolve().parent.parent
CONTRACT_MD = REPO / "docs" / "contract.md"
ASYNCAPI = REPO / "docs" / "asyncapi.yaml"

API_NAMES = Names("{namespace}")  # the asyncapi document writes the namespace as {namespace}
MD_NAMES = Names(DEFAULT_NAMESPACE)  # contract.md uses the default namespace in its tables
INT_MAX = 2**31 - 1  # the store's integer columns; ids and versions are at most this (stated once in contract.md)
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- reading contract.md ---------------------------------------------------------------------------


def md_sections(text: str, level: int) -> dict[str, str]:
    """Heading title -> the text under it, for headings of one level; headings in code blocks do not count."""
    sections: dict[str, str] = {}
    title: str | None = None
    lines: list[str] = []
    in_code = False

    def close() -> None:
        if title is not None:
            assert title not in sections, f"contract.md has the heading {title!r} twice"
            sections[title] = "\n".join(lines)

    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"^(#{1,6}) (.+?)\s*$", line)
        if heading and len(heading.group(1)) <= level:
            close()
            title = heading.group(2) if len(heading.group(1)) == level else None
            lines = []
        elif title is not None:
            lines.append(line)
    close()
    return sections


def md_table(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the one table in text whose first header cell is first_header."""
    tables_found: list[list[list[str]]] = []
    current: list[list[str]] = []
    in_code = False
    for line in [*text.splitlines(), ""]:
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif current:
            tables_found.append(current)
            current = []
    matching = [t for t in tables_found if t[0][0] == first_header]
    assert len(matching) == 1, f"expected one table headed {first_header!r}, found {len(matching)}"
    return [row for row in matching[0][1:] if not all(re.fullmatch(r":?-+:?", cell) for cell in row)]


def code_name(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected a `name` in the table cell {cell!r}"
    return match.group(1)


def md_doc(path: Path) -> dict[str, str]:
    return md_sections(path.read_text(encoding="utf-8"), 2)


def md_methods(path: Path) -> dict[str, dict[str, Any]]:
    """method -> {queue, mutating, params: {name: required}, request, reply} from the `### \\`method\\`` sections."""
    methods: dict[str, dict[str, Any]] = {}
    for title, body in md_sections(md_doc(path)["Methods"], 3).items():
        heading = re.fullmatch(r"`([a-z_]+(?:\.[a-z_]+)+)`", title)  # notices.settings.get has two dots
        assert heading, f"every heading under Methods must be a method name in backticks, not {title!r}"
        queue = re.search(r"^- Queue: `([^`]+)`$", body, re.M)
        mutating = re.search(r"^- Mutating: (yes|no)$", body, re.M)
        request = re.search(r"^Request body:\n+```json\n(.*?)\n```", body, re.M | re.S)
        reply = re.search(r"^Reply body:\n+```json\n(.*?)\n```", body, re.M | re.S)
        assert queue and mutating and request and reply, f"{title}: needs the Queue and Mutating lines and examples"
        params = {}
        for row in md_table(body, "Parameter"):
            assert row[2] in ("yes", "no"), f"{title}: Required must be yes or no, not {row[2]!r}"
            params[code_name(row[0])] = row[2] == "yes"
        methods[heading.group(1)] = {
            "queue": queue.group(1),
            "mutating": mutating.group(1) == "yes",
            "params": params,
            "param_rows": {code_name(row[0]): row for row in md_table(body, "Parameter")},
            "body": body,
            "request": json.loads(request.group(1)),
            "reply": json.loads(reply.group(1)),
        }
    return methods


def md_field_names(text: str) -> list[str]:
    return [code_name(row[0]) for row in md_table(text, "Field")]


# -- reading asyncapi.yaml -------------------------------------------------------------------------


def load_api(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow $ref (keeping sibling keys, which win)."""
    while isinstance(node, dict) and "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**pointer(doc, node["$ref"]), **siblings}
    return node


def flatten(doc: dict[str, Any], schema: Any) -> dict[str, Any]:
    """A schema with $ref resolved and allOf merged: properties and required are the union."""
    s = dict(resolve(doc, schema))
    parts = s.pop("allOf", [])
    merged: dict[str, Any] = {"properties": {}, "required": []}
    for part in parts:
        flat = flatten(doc, part)
        for key, value in flat.items():
            if key == "properties":
                merged["properties"].update(value)
            elif key == "required":
                merged["required"] += value
            else:
                merged.setdefault(key, value)
    merged["properties"].update(s.pop("properties", {}))
    merged["required"] += s.pop("required", [])
    merged.update(s)
    return merged


def schema_types(doc: dict[str, Any], schema: Any) -> set[str]:
    s = flatten(doc, schema)
    types = s.get("type", [])
    found = {types} if isinstance(types, str) else set(types)
    for branch in s.get("oneOf", []) + s.get("anyOf", []):
        found |= schema_types(doc, branch)
    return found


def channel_of(doc: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    return resolve(doc, operation["channel"])


def amqp_binding(doc: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    bindings = resolve(doc, channel.get("bindings", {}))
    return resolve(doc, bindings.get("amqp", {}))


def api_send_operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Channel address -> operation, for the send operations (one per method)."""
    found: dict[str, dict[str, Any]] = {}
    for name, operation in doc["operations"].items():
        if operation["action"] == "send":
            address = channel_of(doc, operation)["address"]
            assert address not in found, f"two send operations on {address}: {name}"
            found[address] = operation
    return found


def api_params_schema(doc: dict[str, Any], method: str) -> dict[str, Any]:
    operation = api_send_operations(doc)[method]
    assert len(operation["messages"]) == 1, f"{method}: one request message"
    message = resolve(doc, operation["messages"][0])
    return flatten(doc, message["payload"])


def api_result_schema(doc: dict[str, Any], method: str) -> Any:
    reply = resolve(doc, api_send_operations(doc)[method]["reply"])
    assert len(reply["messages"]) == 1, f"{method}: one reply message"
    payload = resolve(doc, resolve(doc, reply["messages"][0])["payload"])
    ok = [b for b in payload["oneOf"] if flatten(doc, b)["properties"].get("ok", {}).get("const") is True]
    errors = [b for b in payload["oneOf"] if b.get("$ref") == "#/components/schemas/ReplyError"]
    assert len(ok) == 1 and len(errors) == 1, f"{method}: the reply is oneOf [ok reply, ReplyError]"
    return flatten(doc, ok[0])["properties"]["result"]


def api_event_channels(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Event key -> channel, for the channels on the events exchange."""
    return {
        ch["address"]: ch
        for ch in doc["channels"].values()
        if amqp_binding(doc, ch).get("exchange", {}).get("name") == API_NAMES.events_exchange
    }


def api_event_payload(doc: dict[str, Any], event: str) -> dict[str, Any]:
    messages = list(api_event_channels(doc)[event]["messages"].values())
    assert len(messages) == 1, f"{event}: one message"
    return resolve(doc, messages[0])


# -- a schema checker strict about keys --------------------------------------------------------------

JSON_TYPES: dict[str, Any] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def conform(doc: dict[str, Any], schema: Any, value: Any, path: str = "$") -> list[str]:
    """Problems of value against schema. Unlike JSON Schema, an object with declared properties must have
    exactly those keys: a key the docs do not name, or a named key that is absent, is a problem."""
    s = flatten(doc, schema)
    problems: list[str] = []
    if "oneOf" in s:
        fits = [b for b in s["oneOf"] if not conform(doc, b, value, path)]
        if len(fits) != 1:
            problems.append(f"{path}: fits {len(fits)} of the oneOf branches, not exactly one")
    types = s.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(JSON_TYPES[t](value) for t in names):
            return [*problems, f"{path}: {value!r} is not {' or '.join(names)}"]
    if "const" in s and value != s["const"]:
        problems.append(f"{path}: {value!r} is not {s['const']!r}")
    if "enum" in s and value not in s["enum"]:
        problems.append(f"{path}: {value!r} is not one of {s['enum']}")
    if isinstance(value, str):
        if s.get("format") == "date-time" and not TIMESTAMP_RE.fullmatch(value):
            problems.append(f"{path}: {value!r} is not a UTC timestamp with milliseconds")
        if "pattern" in s and not re.search(s["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {s['pattern']}")
        if len(value) > s.get("maxLength", len(value)) or len(value) < s.get("minLength", 0):
            problems.append(f"{path}: {value!r} has a length out of the documented limits")
    if JSON_TYPES["number"](value) and not s.get("minimum", value) <= value <= s.get("maximum", value):
        problems.append(f"{path}: {value!r} is out of the documented limits")
    if isinstance(value, dict):
        props = s["properties"]
        if props:
            if set(value) != set(props):
                problems.append(
                    f"{path}: keys {sorted(value)} but the docs name {sorted(props)} "
                    f"(undocumented: {sorted(set(value) - set(props))}, absent: {sorted(set(props) - set(value))})"
                )
            for key in set(value) & set(props):
                problems += conform(doc, props[key], value[key], f"{path}.{key}")
        missing = set(s["required"]) - set(value)
        if missing:
            problems.append(f"{path}: required keys {sorted(missing)} are absent")
        if isinstance(s.get("additionalProperties"), dict):
            for key, item in value.items():
                problems += conform(doc, s["additionalProperties"], item, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) > s.get("maxItems", len(value)) or len(value) < s.get("minItems", 0):
            problems.append(f"{path}: {len(value)} items is out of the documented limits")
        if "items" in s:
            for i, item in enumerate(value):
                problems += conform(doc, s["items"], item, f"{path}[{i}]")
    return problems


# -- the checks --------------------------------------------------------------------------------------


class Untouchable:
    """Stands in for the store: calling any of its methods means the handler's checks let the call through.

    Only a call counts, not an attribute look-up: in `self.store.get_contact(require_int(...))` Python looks
    the method up before it evaluates (and so validates) the arguments."""

    def __getattr__(self, name: str) -> Any:
        def reached(*_args: Any, **_kwargs: Any) -> Any:
            raise StoreReached(name)

        return reached


class StoreReached(Exception):
    pass


def handler_routes() -> dict[str, Any]:
    return ShopHandlers(store=Untouchable()).routes  # type: ignore[arg-type]


def set_diff(label: str, left: Any, right: Any, left_name: str, right_name: str) -> list[str]:
    left, right = set(left), set(right)
    if left == right:
        return []
    return [f"{label}: only in {left_name}: {sorted(left - right)}; only in {right_name}: {sorted(right - left)}"]


def check_methods(md_path: Path, api_path: Path) -> list[str]:
    api = load_api(api_path)
    md = md_methods(md_path)
    sends = api_send_operations(api)
    problems = [f"METHODS lists {m} twice" for m in set(METHODS) if METHODS.count(m) > 1]
    problems += set_diff("methods", METHODS, handler_routes(), "app/contract.py", "ShopHandlers.routes")
    problems += set_diff("methods", METHODS, md, "app/contract.py", "contract.md")
    problems += set_diff("methods", METHODS, sends, "app/contract.py", "asyncapi send operations")
    problems += set_diff(
        "mutating methods", MUTATING_METHODS, {m for m, d in md.items() if d["mutating"]}, "app/contract.py",
        "contract.md",
    )
    problems += set_diff(
        "mutating methods", MUTATING_METHODS, {m for m, op in sends.items() if op.get("x-mutating") is True},
        "app/contract.py", "asyncapi x-mutating",
    )
    for method, doc in md.items():
        if method in METHODS and doc["queue"] != MD_NAMES.rpc_queue(method_group(method)):
            problems.append(f"contract.md: {method} is said to land in {doc['queue']}")
        errors_line = re.search(r"^Errors: (.*)$", doc["body"], re.M)
        md_errors = set(re.findall(r"`([a-z_]+)`", errors_line.group(1))) if errors_line else set()
        if method in sends:
            problems += set_diff(f"{method} errors", md_errors, sends[method].get("x-errors", []), "contract.md",
                                 "asyncapi x-errors")
    for method, operation in sends.items():
        channel = channel_of(api, operation)
        exchange = amqp_binding(api, channel).get("exchange", {})
        if (exchange.get("name"), exchange.get("type"), exchange.get("durable")) != (
            API_NAMES.rpc_exchange, "topic", True,
        ):
            problems.append(f"asyncapi: {method} is not on the durable topic exchange {API_NAMES.rpc_exchange}")
        reply_channel = resolve(api, resolve(api, operation["reply"])["channel"])
        if reply_channel.get("address") is not None:
            problems.append(f"asyncapi: the reply channel of {method} must have a null (dynamic) address")
    return problems


def store_event_keys() -> set[str]:
    source = "".join(inspect.getsource(m) for m in (contact_store, order_store, order_states, duplicate_store))
    return set(re.findall(r"\"((?:contact|order|duplicate)\.[a-z_]+)\"", source)) | {
        event for _, _, event in order_states.TRANSITIONS.values()
    }


def check_events(md_path: Path, api_path: Path) -> list[str]:
    api = load_api(api_path)
    events_md = md_sections(md_doc(md_path)["Events"], 3)
    rows = md_table(md_doc(md_path)["Events"], "Event key")
    problems = set_diff("events", EVENTS, [code_name(r[0]) for r in rows], "app/contract.py", "contract.md")
    problems += set_diff("events", EVENTS, api_event_channels(api), "app/contract.py", "asyncapi event channels")
    problems += set_diff("events", EVENTS, store_event_keys(), "app/contract.py", "what the store emits")
    problems += set_diff(
        "events", EVENTS, api["components"]["schemas"]["EventKey"]["enum"], "app/contract.py", "asyncapi EventKey"
    )
    receive = {
        channel_of(api, op)["address"] for op in api["operations"].values()
        if op["action"] == "receive" and channel_of(api, op)["address"] in api_event_channels(api)
    }
    problems += set_diff("events", EVENTS, receive, "app/contract.py", "asyncapi receive operations")
    emitted_by = {code_name(r[0]): code_name(r[1]) for r in rows}
    for action, (_, _, event) in order_states.TRANSITIONS.items():
        if emitted_by.get(event) != f"orders.{action}":
            problems.append(f"contract.md: {event} is emitted by orders.{action}, not {emitted_by.get(event)}")
    problems += [f"contract.md: {e} is emitted by {m}, not a method" for e, m in emitted_by.items() if m not in METHODS]
    for event in EVENTS:
        if event in api_event_channels(api):
            payload = flatten(api, api_event_payload(api, event)["payload"])
            if payload["properties"].get("event", {}).get("const") != event:
                problems.append(f"asyncapi: the {event} message's payload must have event: const {event}")
            data = resolve(api, payload["properties"].get("data", {}))
            want = {"contact": "Contact", "order": "Order", "duplicate": "DuplicatePair"}[event.split(".")[0]]
            if data != api["components"]["schemas"][want]:
                problems.append(f"asyncapi: the {event} message's data must be a {want}")
    problems += set_diff(
        "event envelope", md_field_names(events_md["Event envelope"]),
        flatten(api, api["components"]["schemas"]["EventEnvelope"])["properties"], "contract.md", "asyncapi",
    )
    return problems


def check_error_codes(md_path: Path, api_path: Path) -> list[str]:
    api = load_api(api_path)
    md_codes = [code_name(r[0]) for r in md_table(md_doc(md_path)["Errors"], "Code")]
    problems = set_diff("error codes", ERROR_CODES, md_codes, "app/contract.py", "contract.md")
    problems += set_diff(
        "error codes", ERROR_CODES, api["components"]["schemas"]["ErrorCode"]["enum"], "app/contract.py",
        "asyncapi ErrorCode",
    )
    error_classes: list[type[ShopError]] = [ShopError, *ShopError.__subclasses__()]
    raised = {cls.code for cls in error_classes}
    problems += [f"the code raises the undocumented error code {c}" for c in raised - set(ERROR_CODES)]
    for method, operation in api_send_operations(api).items():
        problems += [f"asyncapi: {method} lists an unknown error {e}" for e in operation.get("x-errors", [])
                     if e not in ERROR_CODES]
    return problems


class FakeExchange:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeQueue:
    def __init__(self, channel: FakeChannel, name: str) -> None:
        self.channel = channel
        self.name = name

    async def bind(self, exchange: FakeExchange, routing_key: str) -> None:
        self.channel.bindings.add((self.name, exchange.name, routing_key))


class FakeChannel:
    """Records what app/messaging/topology.py declares."""

    def __init__(self) -> None:
        self.exchanges: dict[str, tuple[str, bool]] = {}
        self.queues: dict[str, dict[str, Any]] = {}
        self.bindings: set[tuple[str, str, str]] = set()

    async def declare_exchange(self, name: str, type: Any, durable: bool = False, **kw: Any) -> FakeExchange:
        self.exchanges[name] = (str(getattr(type, "value", type)), durable)
        return FakeExchange(name)

    async def declare_queue(self, name: str, durable: bool = False, **kw: Any) -> FakeQueue:
        self.queues[name] = {"durable": durable, **kw}
        return FakeQueue(self, name)


async def declared_topology(names: Names) -> FakeChannel:
    channel = FakeChannel()
    await topology.declare_service_queues(channel, names)  # type: ignore[arg-type]
    return channel


async def check_names(md_path: Path, api_path: Path) -> list[str]:
    problems: list[str] = []
    # contract.md, in the default namespace
    md = md_doc(md_path)["Exchanges and queues"]
    sections = md_sections(md, 3)
    exchanges = {code_name(r[0]): (r[1], r[2]) for r in md_table(sections["Exchanges"], "Exchange")}
    queue_rows = md_table(sections["Service queues"], "Queue")
    queues = {(code_name(r[0]), code_name(r[1]), code_name(r[2])) for r in queue_rows}
    declared = await declared_topology(MD_NAMES)
    problems += set_diff(
        "exchanges", {n: (t, "yes" if d else "no") for n, (t, d) in declared.exchanges.items()}.items(),
        exchanges.items(), "topology.py", "contract.md",
    )
    problems += set_diff("queues and bindings", declared.bindings, queues, "topology.py", "contract.md")
    expected = {(q, MD_NAMES.rpc_exchange, key) for q, key in MD_NAMES.rpc_bindings().items()}
    expected.add((MD_NAMES.dead_queue, MD_NAMES.dead_exchange, "#"))
    problems += set_diff("queues and bindings", expected, declared.bindings, "Names", "topology.py")
    problems += [f"topology.py: {q} is not durable" for q, kw in declared.queues.items() if not kw["durable"]]
    wanted_exchanges = {MD_NAMES.rpc_exchange, MD_NAMES.events_exchange, MD_NAMES.dead_exchange}
    problems += set_diff("exchanges", wanted_exchanges, declared.exchanges, "Names", "topology.py")
    # asyncapi, with {namespace}
    api = load_api(api_path)
    api_queues: set[tuple[str, str, str]] = set()
    for channel in api["channels"].values():
        binding = amqp_binding(api, channel)
        if binding.get("is") == "queue" and "x-bound-to" in binding:
            queue = binding["queue"]
            if queue["name"] != channel["address"] or not queue["durable"] or queue["exclusive"]:
                problems.append(f"asyncapi: the queue channel {channel['address']} is not a durable shared queue")
            if "{namespace}" in channel["address"] and "namespace" not in channel.get("parameters", {}):
                problems.append(f"asyncapi: the channel {channel['address']} needs the namespace parameter")
            api_queues.add((queue["name"], binding["x-bound-to"]["exchange"], binding["x-bound-to"]["bindingKey"]))
    api_declared = await declared_topology(API_NAMES)
    problems += set_diff("queues and bindings", api_declared.bindings, api_queues, "topology.py", "asyncapi")
    api_exchanges = {
        (b["exchange"]["name"], b["exchange"]["type"], b["exchange"]["durable"])
        for ch in api["channels"].values() if "exchange" in (b := amqp_binding(api, ch))
    }
    wanted = {(n, t, d) for n, (t, d) in api_declared.exchanges.items() if n != API_NAMES.dead_exchange}
    problems += set_diff("exchanges", wanted, api_exchanges, "topology.py", "asyncapi")
    dead = [b for ch in api["channels"].values() if (b := amqp_binding(api, ch)).get("is") == "queue"
            and b.get("x-bound-to", {}).get("exchange") == API_NAMES.dead_exchange]
    if [b["x-bound-to"].get("exchangeType") for b in dead] != [api_declared.exchanges[API_NAMES.dead_exchange][0]]:
        problems.append("asyncapi: the dead-letter channel must name the dead exchange's type")
    return problems


def check_entities(md_path: Path, api_path: Path) -> list[str]:
    api = load_api(api_path)
    schemas = api["components"]["schemas"]
    entities = md_sections(md_doc(md_path)["Entities"], 3)
    contact_row = type("Row", (), {"_mapping": {c.name: None for c in tables.contacts.c}})()
    order_row = type("Row", (), {"_mapping": {**{c.name: None for c in tables.orders.c}, "items": []}})()
    history_keys = {c.name for c in tables.history.c} - {"id", "entity", "entity_id"}
    pairs = {
        "Contact": ("Contact", set(contact_entity(contact_row))),
        "Measurements": ("Measurements", set(contact_entity(contact_row)["measurements"])),
        "Order": ("Order", set(order_entity(order_row))),
        "Order item": ("OrderItem", set(ITEM_FIELDS)),
        "History entry": ("HistoryEntry", history_keys),
        "Duplicate pair": ("DuplicatePair", set(duplicate_entity(
            type("Row", (), {"_mapping": {c.name: None for c in tables.duplicates.c}})()))),
        "Notice settings": ("NoticeSettings", set(default_settings("u", "shipping"))),
    }
    problems: list[str] = []
    for md_title, (schema_name, code_keys) in pairs.items():
        md_fields = md_field_names(entities[md_title])
        problems += set_diff(md_title, code_keys, md_fields, "the code", "contract.md")
        problems += set_diff(md_title, code_keys, flatten(api, schemas[schema_name])["properties"], "the code",
                             f"asyncapi {schema_name}")
    problems += set_diff("measurements", MEASUREMENT_FIELDS, pairs["Measurements"][1], "validation.py", "store")
    problems += set_diff(
        "measurements input", MEASUREMENT_FIELDS, flatten(api, schemas["MeasurementsInput"])["properties"],
        "validation.py", "asyncapi MeasurementsInput",
    )
    problems += set_diff(
        "order item input", ITEM_FIELDS, flatten(api, schemas["OrderItemInput"])["properties"], "validation.py",
        "asyncapi OrderItemInput",
    )
    item_rows = {code_name(r[0]): r[2] == "yes" for r in md_table(md_methods(md_path)["orders.place"]["body"],
                                                                  "Item field")}
    item_schema = flatten(api, schemas["OrderItemInput"])
    api_items = {name: name in item_schema["required"] for name in item_schema["properties"]}
    problems += set_diff("order item input", item_rows.items(), api_items.items(), "contract.md", "asyncapi")
    contact_params = flatten(api, schemas["ContactsCreateParams"])["properties"]
    problems += set_diff("contact fields", CONTACT_FIELDS, contact_params, "validation.py", "ContactsCreateParams")
    history_actions = set(schemas["HistoryEntry"]["properties"]["action"]["enum"])
    store_actions = {"created", "updated", "merged", "placed", "amended", "moved"} | {e.split(".")[1] for _, _, e in
                                                                   order_states.TRANSITIONS.values()}
    problems += set_diff("history actions", store_actions, history_actions, "the store", "asyncapi HistoryEntry")
    statuses = {s.value for s in order_states.OrderStatus}
    problems += set_diff("order statuses", statuses, schemas["OrderStatus"]["enum"], "order_states.py", "asyncapi")
    return problems


def check_life_cycle(md_path: Path) -> list[str]:
    rows = md_table(md_doc(md_path)["Order life cycle"], "Action")
    documented = {code_name(r[0]): (r[1].strip("`"), r[2].strip("`"), code_name(r[3])) for r in rows}
    problems = []
    for action, (source, target, event) in order_states.TRANSITIONS.items():
        if documented.get(f"orders.{action}") != (source.value, target.value, event):
            problems.append(f"contract.md: orders.{action} is {source.value} -> {target.value} ({event}), "
                            f"not {documented.get(f'orders.{action}')}")
    if documented.get("orders.place") != ("(new)", "pending", "order.placed"):
        problems.append("contract.md: orders.place makes a pending order and emits order.placed")
    if documented.get("orders.amend") != ("pending", "pending", "order.amended"):
        problems.append("contract.md: orders.amend keeps a pending order pending and emits order.amended")
    return problems


def check_md_params(md_path: Path, api_path: Path) -> list[str]:
    api = load_api(api_path)
    problems: list[str] = []
    if f"at most {INT_MAX:,}" not in md_doc(md_path)["Methods"]:
        problems.append(f"contract.md: the common rules must say integers are at most {INT_MAX:,}")
    for method, doc in md_methods(md_path).items():
        if method not in METHODS:
            continue
        schema = api_params_schema(api, method)
        api_params = {name: name in schema["required"] for name in schema["properties"]}
        problems += set_diff(f"{method} parameters (name, required)", doc["params"].items(), api_params.items(),
                             "contract.md", "asyncapi")
        for name, row in doc["param_rows"].items():
            if name == "limit" and f"1 to {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}" not in row[3]:
                problems.append(f"contract.md: {method} limit must say 1 to {MAX_PAGE_SIZE}, default "
                                f"{DEFAULT_PAGE_SIZE}")
            prop = flatten(api, schema["properties"].get(name, {}))
            if "maxLength" in prop and f"{prop['maxLength']} characters" not in row[3]:
                problems.append(f"contract.md: {method} {name} must say {prop['maxLength']} characters")
            if "maximum" in prop and prop["maximum"] != INT_MAX and f"{prop['maximum']:,}" not in row[3]:
                problems.append(f"contract.md: {method} {name} must give the maximum {prop['maximum']}")
    return problems


# -- the handlers against the asyncapi params schemas -----------------------------------------------------


async def validation_outcome(method: str, params: dict[str, Any]) -> str | None:
    """None when the handler's checks let the call through; else the field its InvalidError names."""
    call = Call(method=method, params=params, message_id="contract-test", user_id="tester")
    try:
        await handler_routes()[method](call)
    except InvalidError as exc:
        return str(exc.details.get("field", "(no field)"))
    except StoreReached:
        return None
    raise AssertionError(f"{method} returned without touching the store")


def bounds(s: dict[str, Any], types: set[str], example: Any) -> Iterator[tuple[Any, bool, str]]:
    """(value, accepted?, what) for the limits a schema states."""
    if "null" in types:
        yield None, True, "null"
    elif types:
        yield None, False, "null"
    if "minimum" in s:
        yield s["minimum"], True, "its minimum"
        yield s["minimum"] - 1, False, "below its minimum"
    if "maximum" in s:
        yield s["maximum"], True, "its maximum"
        yield s["maximum"] + 1, False, "above its maximum"
    if "maxLength" in s:
        if "pattern" not in s and "format" not in s:
            yield "a" * s["maxLength"], True, "its longest"
        yield "a" * (s["maxLength"] + 1), False, "too long"
    if s.get("minLength", 0) >= 1:
        yield "", False, "empty"
    if "enum" in s:
        yield "zz-not-listed", False, "not in its enum"
    if "pattern" in s:
        assert not re.search(s["pattern"], "!!")
        yield "!!", False, "not matching its pattern"
    if s.get("format") == "email":
        yield "no-at-sign", False, "not an e-mail address"
    if isinstance(example, list) and example:
        if "minItems" in s:
            yield [], False, "an empty list"
        if "maxItems" in s:
            yield [example[0]] * s["maxItems"], True, "its longest list"
            yield [example[0]] * (s["maxItems"] + 1), False, "a list too long"


def variants(
    api: dict[str, Any], schema: Any, value: dict[str, Any], path: str
) -> Iterator[tuple[Any, str | None, str]]:
    """(a changed copy of value, the field the service must refuse, or None if it must accept; what changed)."""
    s = flatten(api, schema)
    for name, sub in s["properties"].items():
        field = f"{path}{name}"
        sub_flat = flatten(api, sub)
        types = schema_types(api, sub)
        if name not in value:
            raise AssertionError(f"the example leaves out {field}: examples must give every parameter")
        yield {k: v for k, v in value.items() if k != name}, (field if name in s["required"] else None), f"no {field}"
        wrong = "x" if types & {"integer", "number"} else 12345
        yield {**value, name: wrong}, field, f"{field} = {wrong!r}"
        for bad, accepted, what in bounds(sub_flat, types, value[name]):
            yield {**value, name: bad}, (None if accepted else field), f"{field} {what}"
        if isinstance(value[name], list) and value[name] and "items" in sub_flat:
            item_schema = flatten(api, sub_flat["items"])
            if item_schema["properties"]:
                for item, expect, what in variants(api, item_schema, value[name][0], f"{field}[0]."):
                    yield {**value, name: [item, *value[name][1:]]}, expect, what
        if isinstance(value[name], dict) and sub_flat["properties"]:
            for inner, expect, what in variants(api, sub_flat, value[name], f"{field}."):
                yield {**value, name: inner}, expect, what
    if s.get("additionalProperties") is False:
        yield {**value, "zz_unknown": 1}, f"{path}zz_unknown", f"an unknown field {path}zz_unknown"


async def check_handler_params(api_path: Path, method: str) -> list[str]:
    api = load_api(api_path)
    schema = api_params_schema(api, method)
    problems: list[str] = []
    if schema.get("additionalProperties") is not False:
        problems.append(f"asyncapi: {method} params must have additionalProperties: false")
    examples = schema.get("examples", [])
    if len(examples) != 1:
        return [*problems, f"asyncapi: {method} params need exactly one example"]
    example = examples[0]
    if await validation_outcome(method, example) is not None:
        problems.append(f"asyncapi: the {method} example is refused: {await validation_outcome(method, example)}")
    for params, expect, what in variants(api, schema, example, ""):
        got = await validation_outcome(method, params)
        if got != expect:
            want = "accept it" if expect is None else f"refuse it naming {expect}"
            problems.append(f"{method} with {what}: the docs say the service must {want}; it gave {got or 'no error'}")
    # Names documented for other methods (with values valid there) must be unknown to this one.
    vocabulary: dict[str, Any] = {}
    for other in METHODS:
        vocabulary.update(api_params_schema(api, other).get("examples", [{}])[0])
    vocabulary.update({"action": "start", "message_id": "m", "number": "K-0001", "total_pence": 1})
    for name, value in vocabulary.items():
        if name not in schema["properties"] and await validation_outcome(method, {**example, name: value}) != name:
            problems.append(f"{method} accepts {name!r}, which the docs do not list for it")
    return problems


# -- the real store: results and events against the schemas ----------------------------------------------


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[ShopStore]:
    store = await ShopStore.open(f"sqlite+aiosqlite:///{tmp_path / 'contract.sqlite3'}")
    try:
        yield store
    finally:
        await store.close()


async def run_every_method(store: ShopStore) -> tuple[dict[str, list[Any]], dict[str, ShopError]]:
    """Calls every method through the real handlers; returns their results and a few refusals."""
    handlers = ShopHandlers(store)
    results: dict[str, list[Any]] = {m: [] for m in METHODS}

    async def call(method: str, params: dict[str, Any]) -> Any:
        result = await handlers.routes[method](Call(method, params, uuid.uuid4().hex, "tester"))
        results[method].append(result)
        return result

    async def refusal(method: str, params: dict[str, Any]) -> ShopError:
        with pytest.raises(ShopError) as caught:
            await call(method, params)
        return caught.value

    contact = await call("contacts.create", {"name": "Morag Campbell", "measurements": {"waist_cm": 86.5}})
    await call("contacts.create", {"name": "Hamish Ross", "email": "h@example.org", "phone": "0131 555 0102"})
    await call("contacts.update", {"id": contact["id"], "version": 1, "phone": "+44 131 555 0199"})
    item = {"description": "Kilt, 8 yard", "tartan": "Campbell Ancient", "quantity": 2, "unit_price_pence": 45000}
    order = await call("orders.place", {"contact_id": contact["id"], "items": [item]})
    order = await call("orders.amend", {"id": order["id"], "version": 1, "notes": "Fitting on the 4th"})
    order = await call("orders.start", {"id": order["id"], "version": order["version"]})
    refusals = {
        "locked": await refusal("orders.amend", {"id": order["id"], "version": order["version"], "notes": "x"}),
        "conflict": await refusal("contacts.update", {"id": contact["id"], "version": 1, "notes": "x"}),
    }
    order = await call("orders.complete", {"id": order["id"], "version": order["version"]})
    await call("pickups.list", {"limit": 1})
    await call("orders.collect", {"id": order["id"], "version": order["version"]})
    other = await call("orders.place", {"contact_id": contact["id"], "items": [item], "notes": "Sporran too"})
    other = await call("orders.cancel", {"id": other["id"], "version": 1})
    refusals["invalid"] = await refusal("orders.cancel", {"id": other["id"], "version": other["version"]})
    # possible duplicates and merging: three new contacts; the second one's order moves to the first
    isla = await call("contacts.create", {"name": "Isla Cameron", "phone": "07700 900555"})
    twin = await call("contacts.create", {"name": "Isla Camerson", "phone": "07700 900555"})
    third = await call("contacts.create", {"name": "Isla C.", "phone": "07700 900555"})
    await call("orders.place", {"contact_id": twin["id"], "items": [item]})
    await call("contacts.flag_duplicate", {"first_id": twin["id"], "second_id": isla["id"], "score": 92,
                                           "reason": "similar names (92%) and the same phone"})
    apart = await call("contacts.flag_duplicate", {"first_id": isla["id"], "second_id": third["id"]})
    await call("contacts.keep_apart", {"id": apart["id"], "version": apart["version"]})
    stale = await call("contacts.flag_duplicate", {"first_id": twin["id"], "second_id": third["id"], "reason": None})
    await call("contacts.duplicates", {})
    merged = await call("contacts.merge", {"keep_id": isla["id"], "keep_version": 1, "merge_id": twin["id"],
                                           "merge_version": 1, "email": "isla@example.org"})
    assert merged["merged"]["merged_into"] == isla["id"] and merged["orders"][0]["contact_id"] == isla["id"]
    assert {p["status"] for p in merged["pairs"]} == {"merged"}  # (isla, third) was kept apart: not asked again
    refusals["pair_conflict"] = await refusal("contacts.keep_apart", {"id": stale["id"], "version": 1})
    await call("contacts.duplicates", {"status": "all", "limit": 500})
    await call("contacts.list", {"merged": True})
    # billing and notices (after the order above was collected and another one completed)
    ready = await call("orders.place", {"contact_id": contact["id"], "items": [item]})
    ready = await call("orders.start", {"id": ready["id"], "version": 1})
    await call("orders.complete", {"id": ready["id"], "version": ready["version"]})
    billing = await call("pickups.billing", {"since": None, "limit": 1})
    assert billing["count"] == 2 and billing["next_cursor"] is not None
    await call("pickups.billing", {"since": billing["days"][0]["date"], "until": billing["days"][-1]["date"],
                                   "cursor": billing["next_cursor"]})
    await call("pickups.list", {})
    await call("notices.settings.get", {"role": "shipping"})
    saved = await call("notices.settings.set", {"role": "shipping", "version": 0, "email_enabled": True,
                                                "email": "dougie@example.org", "quiet_start": "21:00",
                                                "quiet_end": "07:00"})
    await call("notices.settings.set", {"role": "shipping", "version": saved["version"], "quiet_start": None,
                                        "quiet_end": None, "digest": True})
    await call("notices.settings.get", {"role": "shipping"})
    refusals["notice_conflict"] = await refusal("notices.settings.set", {"role": "shipping", "version": 1,
                                                                         "digest": False})
    await call("contacts.list", {"limit": 1})
    await call("contacts.get", {"id": contact["id"]})
    await call("orders.list", {"contact_id": contact["id"]})
    await call("orders.get", {"id": order["id"]})
    return results, refusals


class CapturingExchange:
    def __init__(self) -> None:
        self.published: list[tuple[aio_pika.Message, str]] = []

    async def publish(self, message: aio_pika.Message, routing_key: str, **_kw: Any) -> None:
        self.published.append((message, routing_key))


# -- tests -------------------------------------------------------------------------------------------------


def test_both_documents_load() -> None:
    api = load_api(ASYNCAPI)
    assert api["asyncapi"] == "3.0.0"
    assert api["info"]["title"] and api["info"]["version"] == "1.0.0"
    assert api["servers"] and all(s["protocol"] == "amqp" for s in api["servers"].values())
    for name, channel in api["channels"].items():
        assert "address" in channel and channel.get("messages"), f"channel {name} needs an address and messages"
    for name, operation in api["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        assert operation["channel"]["$ref"].startswith("#/channels/"), name
        channel_messages = channel_of(api, operation)["messages"].values()
        for message in operation.get("messages", []):
            assert resolve(api, message) in [resolve(api, m) for m in channel_messages], name
    assert md_doc(CONTRACT_MD)["Methods"]


def test_methods_agree() -> None:
    assert check_methods(CONTRACT_MD, ASYNCAPI) == []


def test_events_agree() -> None:
    assert check_events(CONTRACT_MD, ASYNCAPI) == []


def test_error_codes_agree() -> None:
    assert check_error_codes(CONTRACT_MD, ASYNCAPI) == []


async def test_names_agree() -> None:
    assert await check_names(CONTRACT_MD, ASYNCAPI) == []


def test_entities_agree() -> None:
    assert check_entities(CONTRACT_MD, ASYNCAPI) == []


def test_life_cycle_agrees() -> None:
    assert check_life_cycle(CONTRACT_MD) == []


def test_md_parameters_agree_with_asyncapi() -> None:
    assert check_md_params(CONTRACT_MD, ASYNCAPI) == []


def test_handlers_validate_before_touching_the_store() -> None:
    # Constructing the handlers must not touch the store either (Untouchable raises on any use).
    assert set(handler_routes()) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
async def test_handler_accepts_exactly_the_documented_params(method: str) -> None:
    assert await check_handler_params(ASYNCAPI, method) == []


def schema_problems(api: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """What the jsonschema library finds wrong with value; schema's $refs point into the asyncapi document."""
    validator = jsonschema.Draft202012Validator({**schema, "components": api["components"]},
                                                format_checker=jsonschema.FormatChecker())
    return [f"{'.'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(value)]


@pytest.mark.parametrize("method", METHODS)
async def test_md_example_request_passes(method: str) -> None:
    doc = md_methods(CONTRACT_MD)[method]
    assert set(doc["request"]) <= set(doc["params"]), f"{method}: the example uses undocumented parameters"
    assert await validation_outcome(method, doc["request"]) is None
    assert schema_problems(load_api(ASYNCAPI), api_params_schema(load_api(ASYNCAPI), method), doc["request"]) == []
    reply = doc["reply"]
    assert set(reply) in ({"ok", "result"}, {"ok", "error"})
    api = load_api(ASYNCAPI)
    if reply["ok"]:
        assert conform(api, api_result_schema(api, method), reply["result"]) == []
    else:
        assert conform(api, api["components"]["schemas"]["ReplyError"], reply) == []
        assert reply["error"]["code"] in api_send_operations(api)[method]["x-errors"]


async def test_real_results_conform(shop: ShopStore) -> None:
    api = load_api(ASYNCAPI)
    results, refusals = await run_every_method(shop)
    for method in METHODS:
        assert results[method], f"the scenario does not call {method}"
        for result in results[method]:
            assert conform(api, api_result_schema(api, method), result, method) == []
    pickups = results["pickups.list"][0]
    assert pickups["items"] and pickups["next_cursor"] is None
    # Each refusal's code is one the docs list for that method; conflict details are as documented.
    for code, method in (("locked", "orders.amend"), ("conflict", "contacts.update"), ("invalid", "orders.cancel")):
        assert refusals[code].code == code
        assert code in api_send_operations(api)[method]["x-errors"]
    assert isinstance(refusals["locked"], LockedError) and isinstance(refusals["conflict"], ConflictError)
    details = refusals["conflict"].details
    assert conform(api, api["components"]["schemas"]["ConflictDetails"], details) == []
    assert details["your_version"] == 1 and details["current"]["version"] == 2


async def test_real_events_conform(shop: ShopStore) -> None:
    api = load_api(ASYNCAPI)
    results, _ = await run_every_method(shop)
    exchange = CapturingExchange()
    await OutboxRelay(Outbox(shop), exchange).flush(batch=1000)  # type: ignore[arg-type]
    assert exchange.published
    seqs = []
    message_ids = set()
    for message, routing_key in exchange.published:
        body = json.loads(message.body)
        assert routing_key == body["event"] == message.type
        assert conform(api, api_event_payload(api, routing_key)["payload"], body, routing_key) == []
        assert message.content_type == api["defaultContentType"] == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        headers_schema = flatten(api, api["components"]["messageTraits"]["Event"]["headers"])
        assert conform(api, headers_schema, dict(message.headers)) == []
        assert message.headers["seq"] == body["seq"]
        assert message.timestamp is not None and message.message_id
        message_ids.add(message.message_id)
        seqs.append(body["seq"])
    assert seqs == list(range(1, len(seqs) + 1)), "seq must start at 1 and have no gap"
    assert len(message_ids) == len(seqs), "every event has its own message_id"
    # The history shares the events' seq, and every get/list reply's seq is the last event's.
    order = results["orders.get"][-1]
    assert [h["seq"] for h in order["history"]] == sorted(h["seq"] for h in order["history"])
    assert {h["seq"] for h in order["history"]} <= set(seqs)
    assert results["contacts.list"][-1]["seq"] == seqs[-1] == order["seq"]


def test_dead_letter_headers_agree() -> None:
    # every dead-letter header the service writes (the notifier's x-kiltshop-queue is its own, and
    # x-kiltshop-replayed-by travels on a replayed request, not on a dead letter)
    used = set(re.findall(r"\b(DEAD_[A-Z_]+)\b", inspect.getsource(rpc_server)))
    in_code = {getattr(contract, name) for name in used}
    md_headers = {code_name(r[0]) for r in md_table(md_doc(CONTRACT_MD)["Dead letters"], "Header")}
    api = load_api(ASYNCAPI)
    api_headers = set(flatten(api, api["components"]["schemas"]["DeadLetterHeaders"])["properties"])
    assert in_code == md_headers == api_headers


def test_stated_limits_agree() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    assert f"at most {MAX_BODY_BYTES:,} bytes" in text
    column_type = tables.requests.c.message_id.type
    assert isinstance(column_type, String)
    message_id_length = column_type.length
    properties = {r[0].strip("`"): r[1] for r in md_table(md_doc(CONTRACT_MD)["Requests"], "Property")}
    assert f"at most {message_id_length} characters" in properties["message_id"]
    assert "1 to 64 characters" in md_doc(CONTRACT_MD)["Namespace"]
    assert is_valid_namespace("a" * 64) and not is_valid_namespace("a" * 65) and not is_valid_namespace("a.b")
    assert f"`{DEFAULT_NAMESPACE}`" in md_doc(CONTRACT_MD)["Namespace"]
    api = load_api(ASYNCAPI)
    assert api["components"]["parameters"]["namespace"]["default"] == DEFAULT_NAMESPACE
    for method in METHODS:
        limit = api_params_schema(api, method)["properties"].get("limit")
        if limit is not None:
            assert (limit["maximum"], limit["default"]) == (MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE), method


# -- the registry: declared once, everything else derived -----------------------------------------------------


def test_committed_asyncapi_is_what_the_registry_generates() -> None:
    assert generator.document() == ASYNCAPI.read_text(encoding="utf-8"), "run: python -m app.contract.asyncapi --write"
    assert generator.main(["--check"]) == 0


def test_an_asyncapi_edited_by_hand_is_caught() -> None:
    text = ASYNCAPI.read_text(encoding="utf-8")
    by_hand = [
        text.replace("maximum: 1000\n", "maximum: 999\n", 1),  # a Params schema: items[].quantity
        text.replace("x-errors:\n    - invalid\n", "x-errors:\n    - not_found\n", 1),  # a method's operation
        text.replace("title: Kiltshop shop service", "title: Kilt shop", 1),  # the hand-written part
    ]
    for edited in by_hand:
        assert edited != text
        assert generator.document() != edited


def test_routes_permissions_and_generated_asyncapi_agree() -> None:
    api = load_api(ASYNCAPI)
    sends = api_send_operations(api)
    generated = generator.params_schemas()
    assert tuple(REGISTRY) == METHODS and set(handler_routes()) == set(REGISTRY) == set(PERMISSIONS) == set(sends)
    assert {name for name, m in REGISTRY.items() if m.mutating} == MUTATING_METHODS
    for name, declared in REGISTRY.items():
        assert PERMISSIONS[name] == {str(role) for role in declared.roles} and declared.roles, name
        assert sends[name].get("x-mutating") is declared.mutating, name
        assert tuple(sends[name]["x-errors"]) == declared.errors and sends[name]["summary"] == declared.summary
        assert api_result_schema(api, name) == {"$ref": f"#/components/schemas/{declared.result}"}, name
        message = resolve(api, sends[name]["messages"][0])
        component = generator.params_component(name)
        assert message["payload"] == {"$ref": f"#/components/schemas/{component}"}, name
        assert api["components"]["schemas"][component] == generated[component], name
    # the models' words for statuses are the domain's and the store's
    assert set(typing.get_args(param_models.OrderStatusName)) == {s.value for s in order_states.OrderStatus}
    assert typing.get_args(param_models.DuplicateStatus) == duplicate_store.LIST_STATUSES
    # a nested model's component does not shadow a hand-written one (an Order's OrderItem is not the input)
    hand_written = yaml.safe_load(generator.BASE.read_text(encoding="utf-8"))["components"]["schemas"]
    assert not set(hand_written) & set(generated)


def test_a_method_declared_only_in_the_registry_gets_every_asyncapi_entry() -> None:
    # orders.hem: declared here and nowhere else (no handler, no prose, nothing in asyncapi.base.yaml)
    hem = Method("orders.hem", param_models.OrderMove, mutating=True, roles=frozenset({Role.WORKSHOP}),
                 example={"id": 1, "version": 2}, summary="Take up the hem of an order. Emits order.hemmed.",
                 errors=("invalid", "not_found", "conflict"), result="Order")
    api = yaml.safe_load(generator.document({**REGISTRY, hem.name: hem}))
    assert api["asyncapi"] == "3.0.0"
    operation = api_send_operations(api)["orders.hem"]
    assert operation is api["operations"]["ordersHem"] and operation["x-mutating"] is True
    assert operation["x-errors"] == ["invalid", "not_found", "conflict"]
    assert operation["bindings"] == {"$ref": "#/components/operationBindings/rpcMutatingRequest"}
    channel = channel_of(api, operation)
    assert channel["address"] == "orders.hem" and "`{namespace}.rpc.orders`" in channel["description"]
    assert amqp_binding(api, channel)["exchange"]["name"] == API_NAMES.rpc_exchange
    request = resolve(api, operation["messages"][0])
    assert request == api["components"]["messages"]["OrdersHemRequest"]
    assert request["traits"] == [{"$ref": "#/components/messageTraits/MutatingRequest"}]
    params = api_params_schema(api, "orders.hem")
    assert params == flatten(api, api["components"]["schemas"]["OrdersHemParams"])
    jsonschema.Draft202012Validator.check_schema(params)
    assert schema_problems(api, params, hem.example) == []
    assert schema_problems(api, params, {"id": "one"})
    reply = resolve(api, operation["reply"])
    assert reply["channel"] == {"$ref": "#/channels/reply"} and api["channels"]["reply"]["address"] is None
    assert resolve(api, reply["messages"][0]) == api["components"]["messages"]["OrdersHemReply"]
    assert "ordersHemReply" in api["channels"]["reply"]["messages"]
    assert api_result_schema(api, "orders.hem") == {"$ref": "#/components/schemas/Order"}
    order = resolve(api, api_result_schema(api, "orders.hem"))
    assert order == api["components"]["schemas"]["Order"]
    # every reference in the document leads somewhere, and the other methods are untouched
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if isinstance(node.get("$ref"), str) else [])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(api)
    for target in refs:
        assert pointer(api, target) is not None, target
    published = load_api(ASYNCAPI)
    for name in ("channels", "operations"):  # the reply channel gains the one reply message
        assert {k: v for k, v in api[name].items() if k not in ("ordersHem", "reply")} == {
            k: v for k, v in published[name].items() if k != "reply"}
    assert {**published["channels"]["reply"]["messages"], "ordersHemReply": {
        "$ref": "#/components/messages/OrdersHemReply"}} == api["channels"]["reply"]["messages"]
    # a method whose result is a new kind of entity needs its schema written in the base file first
    with pytest.raises(SystemExit, match="OrderHem"):
        generator.document({**REGISTRY, hem.name: Method(**{**hem.__dict__, "result": "OrderHem"})})


@pytest.mark.parametrize("method", METHODS)
def test_documented_example_is_valid_json_schema(method: str) -> None:
    api = load_api(ASYNCAPI)
    schema = api["components"]["schemas"][generator.params_component(method)]
    jsonschema.Draft202012Validator.check_schema(schema)
    (example,) = schema["examples"]
    assert example == REGISTRY[method].example
    assert schema_problems(api, schema, example) == []
    # the check can fail: a wrong type and an unknown field are both reported
    wrong = {**example, "zz_unknown": 1, next(iter(schema["properties"])): {"an": "object"}}
    assert len(schema_problems(api, schema, wrong)) >= 2


# -- the checks can fail: each runs on a copy of a document with one thing changed ------------------------


def changed_copy(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} is not in {source.name}"
    target = tmp_path / source.name
    target.write_text(text.replace(old, new, count), encoding="utf-8")
    return target


def changed_api(tmp_path: Path, change: Any) -> Path:
    doc = copy.deepcopy(load_api(ASYNCAPI))
    change(doc)
    target = tmp_path / "asyncapi.yaml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def test_a_method_missing_from_contract_md_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "### `orders.collect`", "### `orders.fetch`")
    assert any("orders.collect" in p for p in check_methods(md, ASYNCAPI))


def test_a_wrong_mutating_flag_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "- Queue: `kiltshop.rpc.pickups`\n- Mutating: no",
                      "- Queue: `kiltshop.rpc.pickups`\n- Mutating: yes")
    assert check_methods(md, ASYNCAPI)


def test_a_renamed_event_is_caught(tmp_path: Path) -> None:
    api = changed_copy(tmp_path, ASYNCAPI, "address: order.collected", "address: order.picked_up")
    assert any("order.collected" in p for p in check_events(CONTRACT_MD, api))
    md = changed_copy(tmp_path, CONTRACT_MD, "| `order.cancelled` | `orders.cancel`",
                      "| `order.voided` | `orders.cancel`")
    assert check_events(md, ASYNCAPI)


def test_a_missing_error_code_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `locked` |", "| `frozen` |")
    assert check_error_codes(md, ASYNCAPI)


async def test_a_wrong_binding_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `kiltshop.rpc.orders` | `kiltshop.rpc` | `orders.*` |",
                      "| `kiltshop.rpc.orders` | `kiltshop.rpc` | `orders.#` |")
    assert await check_names(md, ASYNCAPI)
    api = changed_copy(tmp_path, ASYNCAPI, "bindingKey: 'pickups.*'", "bindingKey: 'pickup.*'")
    assert await check_names(CONTRACT_MD, api)


def test_a_missing_entity_field_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `total_pence` | integer |", "| `total` | integer |")
    assert any("total_pence" in p for p in check_entities(md, ASYNCAPI))

    def drop_updated_by(doc: dict[str, Any]) -> None:
        del doc["components"]["schemas"]["Contact"]["properties"]["updated_by"]

    assert any("updated_by" in p for p in check_entities(CONTRACT_MD, changed_api(tmp_path, drop_updated_by)))


def test_a_wrong_life_cycle_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `orders.collect` | `completed` |",
                      "| `orders.collect` | `in_progress` |")
    assert check_life_cycle(md)


async def test_wrong_params_are_caught(tmp_path: Path) -> None:
    def add_notes_to_cancel(doc: dict[str, Any]) -> None:
        schema = doc["components"]["schemas"]["OrdersCancelParams"]
        schema["properties"]["notes"] = {"type": "string"}
        schema["examples"][0]["notes"] = "not accepted by the service"

    problems = await check_handler_params(changed_api(tmp_path, add_notes_to_cancel), "orders.cancel")
    assert any("refused" in p for p in problems)

    def drop_notes_from_place(doc: dict[str, Any]) -> None:
        schema = doc["components"]["schemas"]["OrdersPlaceParams"]
        del schema["properties"]["notes"]
        del schema["examples"][0]["notes"]

    problems = await check_handler_params(changed_api(tmp_path, drop_notes_from_place), "orders.place")
    assert any("accepts 'notes'" in p for p in problems)

    def wrong_limit(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["PickupsListParams"]["properties"]["limit"]["maximum"] = 1000

    assert await check_handler_params(changed_api(tmp_path, wrong_limit), "pickups.list")

    def quantity_required(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["OrderItemInput"]["required"].append("quantity")

    problems = await check_handler_params(changed_api(tmp_path, quantity_required), "orders.place")
    assert any("items[0].quantity" in p for p in problems)

    md = changed_copy(tmp_path, CONTRACT_MD, "| `contact_id` | integer | yes |", "| `contact_id` | integer | no |")
    assert check_md_params(md, ASYNCAPI)


def test_an_undocumented_result_key_is_caught() -> None:
    api = load_api(ASYNCAPI)
    contact = {
        "id": 1, "name": "A", "email": "", "phone": "", "address": "", "notes": "", "version": 1,
        "measurements": {"waist_cm": None, "hip_cm": None, "length_cm": None},
        "created_at": "2026-03-14T09:26:53.589Z", "updated_at": "2026-03-14T09:26:53.589Z", "updated_by": "t",
        "merged_into": None,
    }
    schema = api["components"]["schemas"]["Contact"]
    assert conform(api, schema, contact) == []
    assert conform(api, schema, {**contact, "loyalty_points": 3})
    assert conform(api, schema, {k: v for k, v in contact.items() if k != "notes"})
    assert conform(api, schema, {**contact, "version": "1"})


# -- pickups.billing and the notices methods ------------------------------------------------------------


async def test_notice_settings_conflict_details_conform(shop: ShopStore) -> None:
    api = load_api(ASYNCAPI)
    _, refusals = await run_every_method(shop)
    refused = refusals["notice_conflict"]
    assert isinstance(refused, ConflictError)
    assert conform(api, api["components"]["schemas"]["ConflictDetails"], refused.details) == []
    assert refused.details["current"]["version"] == 2 and refused.details["your_version"] == 1
    assert "conflict" in api_send_operations(api)["notices.settings.set"]["x-errors"]


async def test_a_notices_binding_that_misses_two_dot_names_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `kiltshop.rpc.notices` | `kiltshop.rpc` | `notices.#` |",
                      "| `kiltshop.rpc.notices` | `kiltshop.rpc` | `notices.*` |")
    assert await check_names(md, ASYNCAPI)
    api = changed_copy(tmp_path, ASYNCAPI, "bindingKey: 'notices.#'", "bindingKey: 'notices.*'")
    assert await check_names(CONTRACT_MD, api)


def test_a_missing_notice_settings_field_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `digest_at` | string | `HH:MM` local time of the digest |",
                      "| `digest_hour` | string | `HH:MM` local time of the digest |")
    assert any("digest_at" in p for p in check_entities(md, ASYNCAPI))


# -- the possible-duplicates queue and contacts.merge -------------------------------------------------------


async def test_merge_emits_documented_events_and_pair_refusals_conform(shop: ShopStore) -> None:
    api = load_api(ASYNCAPI)
    _, refusals = await run_every_method(shop)
    # The stale pair was resolved by the merge: keeping it apart now is invalid (it is no longer open).
    assert refusals["pair_conflict"].code == "invalid" and refusals["pair_conflict"].details["status"] == "merged"
    exchange = CapturingExchange()
    await OutboxRelay(Outbox(shop), exchange).flush(batch=1000)  # type: ignore[arg-type]
    keys = [key for _, key in exchange.published]
    assert {"contact.merged", "order.moved", "duplicate.queued", "duplicate.resolved"} <= set(keys)
    merge_at = keys.index("contact.merged")
    assert keys[merge_at - 2:merge_at + 1] == ["order.moved", "contact.updated", "contact.merged"]
    assert conform(api, api["components"]["schemas"]["DuplicatePair"], {}) != []


def test_a_missing_merged_into_or_via_is_caught(tmp_path: Path) -> None:
    md = changed_copy(tmp_path, CONTRACT_MD, "| `merged_into` | integer or null |", "| `merged_to` | integer or null |")
    assert any("merged_into" in p for p in check_entities(md, ASYNCAPI))

    def drop_via(doc: dict[str, Any]) -> None:
        del doc["components"]["schemas"]["HistoryEntry"]["properties"]["via"]

    assert any("via" in p for p in check_entities(CONTRACT_MD, changed_api(tmp_path, drop_via)))
    md = changed_copy(tmp_path, CONTRACT_MD, "| `order.moved` | `contacts.merge` |",
                      "| `order.shifted` | `contacts.merge` |")
    assert any("order.moved" in p for p in check_events(md, ASYNCAPI))
