"""Running an import through the contract: read the shop, plan (app/importer/plan.py), then send the plan's
`contacts.create` / `contacts.update` calls in batches, then queue the review pairs
(`contacts.flag_duplicate`). Knows only the wire contract.

Every call carries the plan's own message_id (derived from the records), so an import that stopped half way
(a crash, Ctrl+C, a lost connection) is simply run again: what was done is found again (by e-mail, or as a
record identical to a contact), and a call whose reply was lost is answered from the service's idempotency
ledger instead of being done twice. Each call's app_id is `kiltshop-import/<sources>`, which the service keeps
in the contact's history as `via`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.client.shop_client import CallError, ShopClient
from app.importer.matching import PROBABLE_NAME_SCORE
from app.importer.plan import Create, ImportPlan, Ref, Review, Update, build_plan, matched_contacts
from app.importer.reading import SourceRecord

DEFAULT_BATCH = 50
Progress = Callable[[int, int], None]  # (calls done, calls in all)


@dataclass
class ImportReport:
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": [{"id": c["id"], "name": c["name"]} for c in self.created],
            "updated": [{"id": c["id"], "name": c["name"]} for c in self.updated],
            "queued": [{"id": p["id"], "first_id": p["first_id"], "second_id": p["second_id"],
                        "reason": p["reason"]} for p in self.queued],
            "unchanged": self.unchanged,
            "failures": self.failures,
        }


async def plan_import(client: ShopClient, records: Sequence[SourceRecord],
                      threshold: int = PROBABLE_NAME_SCORE) -> ImportPlan:
    """Read what the shop has now (every contact, merged ones too; the matched ones' history; the known
    pairs) and plan the import against it. Changes nothing."""
    contacts, _ = await client.list_all("contacts.list", {"merged": True})
    histories: dict[int, list[dict[str, Any]]] = {}
    for contact_id in matched_contacts(records, contacts):
        histories[contact_id] = (await client.call("contacts.get", {"id": contact_id}))["history"]
    pairs, _ = await client.list_all("contacts.duplicates", {"status": "all"})
    known = [(p["first_id"], p["second_id"]) for p in pairs]
    return build_plan(records, contacts, histories, known, threshold)


async def run_plan(client: ShopClient, plan: ImportPlan, batch_size: int = DEFAULT_BATCH,
                   progress: Progress | None = None) -> ImportReport:
    """Send the plan: creates and updates in batches (each batch's calls at once), then the review pairs.

    A refused call is reported and the rest goes on; a lost connection stops the run (run it again)."""
    report = ImportReport(unchanged=len(plan.unchanged))
    total, done = plan.calls, 0
    created_ids: dict[str, int] = {}
    actions: list[Create | Update] = [*plan.creates, *plan.updates]
    for start in range(0, len(actions), batch_size):
        batch = actions[start:start + batch_size]
        outcomes = await asyncio.gather(*(_send(client, action) for action in batch), return_exceptions=True)
        for action, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _failed(report, action, outcome)
            elif isinstance(action, Create):
                created_ids[action.ref] = outcome["id"]
                report.created.append(outcome)
            else:
                report.updated.append(outcome)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    for start in range(0, len(plan.reviews), batch_size):
        pairs = plan.reviews[start:start + batch_size]
        flagged = await asyncio.gather(*(_flag(client, r, created_ids) for r in pairs), return_exceptions=True)
        for review, result in zip(pairs, flagged, strict=True):
            if isinstance(result, BaseException):
                _failed(report, review, result)
            elif result is not None and result not in report.queued:
                report.queued.append(result)
        done += len(pairs)
        if progress is not None:
            progress(done, total)
    return report


async def _send(client: ShopClient, action: Create | Update) -> dict[str, Any]:
    method = "contacts.create" if isinstance(action, Create) else "contacts.update"
    result: dict[str, Any] = await client.call(method, action.params, message_id=action.message_id,
                                               app_id=action.via)
    return result


async def _flag(client: ShopClient, review: Review, created: dict[str, int]) -> dict[str, Any] | None:
    first, second = _resolve(review.first, created), _resolve(review.second, created)
    if first is None or second is None or first == second:
        return None  # a side was not created (reported already), or both are one contact after all
    low, high = sorted((first, second))
    try:
        result: dict[str, Any] = await client.call(
            "contacts.flag_duplicate", {"first_id": low, "second_id": high, "score": review.score,
                                        "reason": review.reason[:200]},
            message_id=f"import-pair-{low}-{high}",
        )
    except CallError as exc:
        if exc.code == "invalid" and "merged_into" in exc.details:
            return None  # one of them has been merged meanwhile: nothing left to review
        raise
    return result


def _resolve(ref: Ref, created: dict[str, int]) -> int | None:
    return ref if isinstance(ref, int) else created.get(ref)


def _failed(report: ImportReport, action: Create | Update | Review, exc: BaseException) -> None:
    if isinstance(exc, CallError) and exc.code == "unavailable":
        raise exc  # the broker or the service is gone: stop here; running the import again resumes it
    if not isinstance(exc, CallError):
        raise exc
    if isinstance(action, Review):
        what = f"listing {action.first_label} and {action.second_label} for review"
    elif isinstance(action, Create):
        what = f"adding {action.label}"
    else:
        what = f"updating {action.label}"
    report.failures.append(f"{what}: {exc.message}")
