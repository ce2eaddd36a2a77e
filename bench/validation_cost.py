"""The cost of checking one call's parameters: today's hand-rolled checks against the libraries.

    python bench/validation_cost.py          # a few seconds; prints a Markdown table (microseconds per call)

Each row decodes a typical request body (bytes, as the RPC server gets it) and checks it, for orders.place
(one order, two items) and contacts.update (every contact field):
- hand-rolled: json.loads + the checks the handlers had before the registry (app/domain/validation.py at
  the commit before it, read from git so the figures stay comparable);
- msgspec: json.loads + msgspec.convert(dict, Model, strict) (what the service does: the RPC server parses
  the JSON once and hands the dict on); and msgspec.json.decode(bytes, type=Model) straight from the bytes;
- pydantic v2 (strict, extra="forbid", same limits and trimming): model_validate(dict) and
  model_validate_json(bytes), when pydantic is installed (it is not a dependency: only measured here).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

from app.domain import params

BEFORE = "4c54a97"  # the last commit with the hand-rolled checks

PLACE = json.dumps({"contact_id": 17, "notes": "Wedding on the 14th, pleats to the stripe", "items": [
    {"description": "Eight-yard kilt", "tartan": "MacGregor Modern", "quantity": 1, "unit_price_pence": 48000},
    {"description": "Sporran, dress", "tartan": "", "quantity": 2, "unit_price_pence": 12500}]}).encode()
UPDATE = json.dumps({"id": 3, "version": 7, "name": "Morag Campbell", "email": "morag.campbell@example.org",
                     "phone": "+44 131 555 0199", "address": "12 High St, Inverness", "notes": "Saturdays only",
                     "measurements": {"waist_cm": 86.5, "hip_cm": 98, "length_cm": 61.5}}).encode()


def hand_rolled() -> dict[str, Callable[[bytes], Any]]:
    source = subprocess.run(["git", "show", f"{BEFORE}:app/domain/validation.py"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    v = types.ModuleType("validation_before")
    exec(compile(source, "validation_before.py", "exec"), v.__dict__)

    def place(body: bytes) -> Any:  # orders_place before the registry
        call = json.loads(body.decode("utf-8"))
        v.reject_unknown(call, ("contact_id", "items", "notes"))
        contact_id = v.require_int(call, "contact_id", 1)
        items = v.clean_items(call["items"])
        return contact_id, items, v.as_text(call.get("notes"), "notes", max_len=4000)

    def update(body: bytes) -> Any:  # contacts_update before the registry
        call = json.loads(body.decode("utf-8"))
        v.reject_unknown(call, ("id", "version", *v.CONTACT_FIELDS))
        return v.require_int(call, "id", 1), v.require_int(call, "version", 1), \
            v.clean_contact_fields(call, partial=True)

    return {"orders.place": place, "contacts.update": update}


def with_msgspec() -> tuple[dict[str, Callable[[bytes], Any]], dict[str, Callable[[bytes], Any]]]:
    models = {"orders.place": params.OrdersPlace, "contacts.update": params.ContactsUpdate}
    via_dict = {m: (lambda body, t=t: params.decode(t, json.loads(body.decode("utf-8")))) for m, t in models.items()}
    decoders = {m: msgspec.json.Decoder(t, strict=True) for m, t in models.items()}
    from_bytes = {m: d.decode for m, d in decoders.items()}
    return via_dict, from_bytes


def with_pydantic() -> tuple[dict[str, Callable[[bytes], Any]], dict[str, Callable[[bytes], Any]]] | None:
    try:
        from typing import Annotated

        from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
    except ImportError:
        return None

    def trimmed(value: str | None) -> str:
        value = (value or "").strip()
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        return value

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)

    class Item(Strict):
        description: str
        tartan: str | None = ""
        quantity: Annotated[int, Field(ge=1, le=1000)] = 1
        unit_price_pence: Annotated[int, Field(ge=0, le=10_000_000)]
        _trim = field_validator("description", "tartan", mode="after")(lambda v: trimmed(v))

    class Place(Strict):
        contact_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
        items: Annotated[list[Item], Field(min_length=1, max_length=50)]
        notes: str | None = ""
        _trim = field_validator("notes", mode="after")(lambda v: trimmed(v))

    class Measurements(Strict):
        waist_cm: Annotated[float, Field(ge=10, le=400)] | None = None
        hip_cm: Annotated[float, Field(ge=10, le=400)] | None = None
        length_cm: Annotated[float, Field(ge=10, le=400)] | None = None

    class Update(Strict):
        id: Annotated[int, Field(ge=1, le=2**31 - 1)]
        version: Annotated[int, Field(ge=1, le=2**31 - 1)]
        name: str | None = None
        email: str | None = None
        phone: str | None = None
        address: str | None = None
        notes: str | None = None
        measurements: Measurements | None = None

        @field_validator("name", "email", "phone", "address", "notes", mode="after")
        @classmethod
        def _trim(cls, v: str | None, info: ValidationInfo) -> str:
            v = trimmed(v)  # and the same shape checks as the service's model
            shape = {"email": params.EMAIL_RE, "phone": params.PHONE_RE}.get(info.field_name or "")
            if v and shape is not None and not shape.match(v):
                raise ValueError(f"not a valid {info.field_name}")
            return v

    models: dict[str, type[Strict]] = {"orders.place": Place, "contacts.update": Update}
    via_dict = {m: (lambda body, t=t: t.model_validate(json.loads(body.decode("utf-8")))) for m, t in models.items()}
    from_bytes = {m: (lambda body, t=t: t.model_validate_json(body)) for m, t in models.items()}
    return via_dict, from_bytes


def per_call_us(fn: Callable[[bytes], Any], body: bytes, repeat: int = 3) -> float:
    fn(body)  # fails loudly if the body is refused
    number, _ = timeit.Timer(lambda: fn(body)).autorange()
    return min(timeit.Timer(lambda: fn(body)).repeat(repeat, number)) / number * 1e6


ROUNDS = 5  # the rows are measured in turn, ROUNDS times, and each keeps its best: a busy machine adds noise


def main() -> None:
    rows: list[tuple[str, dict[str, Callable[[bytes], Any]]]] = [("hand-rolled (before), json.loads", hand_rolled())]
    via_dict, from_bytes = with_msgspec()
    rows += [("msgspec, json.loads + convert (the service)", via_dict), ("msgspec, decode from bytes", from_bytes)]
    pyd = with_pydantic()
    if pyd is not None:
        import pydantic

        rows += [(f"pydantic {pydantic.VERSION}, json.loads + model_validate", pyd[0]),
                 (f"pydantic {pydantic.VERSION}, model_validate_json", pyd[1])]
    best: dict[str, list[float]] = {name: [float("inf")] * 2 for name, _ in rows}
    for _ in range(ROUNDS):
        for name, fns in rows:
            got = [per_call_us(fns["orders.place"], PLACE), per_call_us(fns["contacts.update"], UPDATE)]
            best[name] = [min(a, b) for a, b in zip(best[name], got, strict=True)]
    print(f"Python {platform.python_version()}, msgspec {msgspec.__version__}; best of {ROUNDS} interleaved rounds, "
          "microseconds per call.\n")
    print("| checking | orders.place µs | contacts.update µs |")
    print("|---|---|---|")
    for name, (place, update) in best.items():
        print(f"| {name} | {place:.1f} | {update:.1f} |")


if __name__ == "__main__":
    main()
