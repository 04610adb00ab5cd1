"""One SMS for a person paged by several open activations at once (an outage rarely comes alone).

When `sms_bundle_seconds` is set, a page by SMS (activation or drill message) waits that long in
the outbox; when it is sent, the other pages by SMS waiting for the same number from other open
activations go with it as **one** SMS that names every incident and its ref:

    3 open incidents: SEED EMCS core unavailable (K7Q); EOS customs decisions delayed (M2P);
    TARIC tariff lookups failing (X3B). Reply 1 to confirm all 3, or 1 K7Q for one; 2 if you cannot respond.

A bare `1` (or `2`) answering such an SMS applies to every incident it listed that is still open;
`1 K7Q` to that one only. Nothing else is bundled: updates, notices and calls go as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

BUNDLED_KINDS = frozenset({"activation", "drill"})
_NAME_MAX = 50


def bundle_text(items: Sequence[tuple[str, str]]) -> str:
    """The SMS for `items` = (ref, what the incident is about), in the order given."""
    listed = "; ".join(f"{(name or 'incident')[:_NAME_MAX]} ({ref})" for ref, name in items)
    first = items[0][0]
    return (
        f"{len(items)} open incidents: {listed}. "
        f"Reply 1 to confirm all {len(items)}, or 1 {first} for one; 2 if you cannot respond."
    )


def bundled_answer(action: str, refs: Sequence[str]) -> str:
    """What we text back after a bare 1 or 2 answered a bundle."""
    shown = ", ".join(refs)
    if action == "confirm":
        return f"Confirmed all {len(refs)} ({shown}). Thank you."
    return f"Noted: you cannot respond to {len(refs)} ({shown}). We are contacting your alternates."
