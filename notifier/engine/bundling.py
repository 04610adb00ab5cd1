"""Claiming SMS pages of several activations to one number as one SMS (`domain/bundling.py`).

Called by the dispatcher's claim, in its transaction, when `sms_bundle_seconds` is set: the SMS
pages it claimed anchor a sweep of the pages still waiting for the same numbers from other open
activations; a number with pages of more than one activation gets one SMS naming them all, and each
row's stored message says so (`bundle`: the refs listed), which is what a bare "1" answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from notifier.domain.bundling import BUNDLED_KINDS, bundle_text
from notifier.domain.plan import ChannelKind
from notifier.store import activation_repo, outbox_repo


async def sweep(
    conn: AsyncConnection, rows: list[outbox_repo.OutboxRow], now: datetime, worker: str, lease: timedelta
) -> tuple[list[outbox_repo.OutboxRow], list[list[outbox_repo.OutboxRow]]]:
    """(rows to send one by one, bundles: rows to send as one SMS each, first row first)."""
    anchors = [r for r in rows if r.channel == ChannelKind.SMS.value and r.message_kind in BUNDLED_KINDS]
    if not anchors:
        return rows, []
    mates = await outbox_repo.claim_bundle_mates(conn, anchors, BUNDLED_KINDS, now, worker, lease)
    by_address: dict[str, list[outbox_repo.OutboxRow]] = {}
    for row in [*anchors, *mates]:
        by_address.setdefault(row.address, []).append(row)
    grouped = {a: g for a, g in by_address.items() if len({r.activation_id for r in g}) > 1}
    if not grouped:
        return rows + mates, []
    activation_ids = sorted({r.activation_id for g in grouped.values() for r in g})
    names = await activation_repo.activation_names(conn, activation_ids)
    bundles: list[list[outbox_repo.OutboxRow]] = []
    messages: dict[int, dict[str, object]] = {}
    for group in grouped.values():
        group.sort(key=lambda r: r.id)
        order = list(dict.fromkeys(r.activation_id for r in group))
        items = [names.get(aid, ("?", "")) for aid in order]
        text = bundle_text(items)
        refs = [ref for ref, _ in items]
        bundle = []
        for row in group:
            message = {**row.message, "text": text, "bundle": refs}
            messages[row.id] = message
            bundle.append(replace(row, message=message))
        bundles.append(bundle)
    await outbox_repo.set_messages(conn, messages)
    bundled = {r.id for g in grouped.values() for r in g}
    singles = [r for r in [*rows, *mates] if r.id not in bundled]
    return singles, bundles
