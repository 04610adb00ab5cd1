"""What a call-tree message says: the field names, which are required, and their defaults.

One set of field names is used everywhere: in the templates (`{convene}`), in the API's start and
update bodies (`"fields": {"convene": ...}`), in the CLI (`--field convene=...`) and in the docs.
A name that is not in `CONTENT_FIELDS` is refused at start (so a client can never send a field the
templates ignore), and a template placeholder that is neither a content field nor one the system
fills (`SYSTEM_FIELDS`) is a `notifier validate` warning.

The content fields are NIST SP 800-34 Rev.1's notification contents (§4.2.2): the nature of the
event, the outage estimate, response and recovery details, where and when to convene, relocation,
instructions to continue the call tree; plus "who is in charge" (App. D), the conference bridge,
the affected service and, for drills and tests, the scenario.

Rules, in the order `complete_content` applies them:

* **Given** values (the API body, the CLI's `--field`, an alert's summary) win.
* **Derived** from the plan: the outage estimate from the affected service's RTO tier and MTD
  (`SEED` -> "up to 3.5 h (RTO tier 1, MTD 3.5 h)"), who is in charge from the coordinator role
  (its name and primary holder).
* **Defaults** of the call tree (`message_defaults`), then of the organisation.
* **Required** per activation kind (the tree's `required_fields`, else `DEFAULT_REQUIRED`): an
  incident needs the nature, where to convene and instructions; a drill or test its scenario. A
  person starting a tree is refused when one is still missing; an alert or the scheduler starts
  anyway and the gap is logged (an alert must never be dropped for want of a convene point).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from notifier.domain.calltree import ActivationKind, CallTree
from notifier.domain.exercise import FIELD_NAMES as EXERCISE_FIELDS
from notifier.domain.plan import Plan, Service
from notifier.domain.routing import find_service

CONTENT_FIELDS: Mapping[str, str] = {
    "nature": "nature of the event or disruption",
    "service": "the affected service",
    "outage_estimate": "known outage estimate",
    "response": "response and recovery details",
    "convene": "where and when to convene",
    "bridge": "conference bridge (number and code)",
    "relocation": "instructions to prepare for relocation",
    "instructions": "instructions, e.g. to continue the call tree",
    "in_charge": "who is in charge",
    "scenario": "the scenario of a drill or test",
}

#: filled by the system, never given: the tree, the reference code, the recipient, their node, the
#: email acknowledgement link, what the notices say (see `notices.py`), and who invoked the plan
SYSTEM_FIELDS: Mapping[str, str] = {
    "tree": "the call tree's name",
    "ref": "the activation's reference code",
    "person": "the recipient's name",
    "node": "the recipient's node in the tree",
    "ack_url": "the email acknowledgement link",
    "message": "free text of an update or of the return to normal",
    "rule": "completion rule (notices)",
    "counts": "what the tree achieved (notices)",
    "tried": "who was tried, how, and what happened (unreachable notice)",
    "unreached": "who is still not reached (completed notice)",
    "elapsed": "time since the start against the time limit (completed notice)",
    "incidents": "the open activations a reply could be for (which-one notice)",
    "reason": "why a node could not be reached (notices)",
    "criteria": "the plan's activation criteria (invocation question)",
    "decision": "the invocation authority's decision (decision notice)",
    "by": "who decided (decision notice)",
    "invoked_by": "who invoked the plan, and in which role",
}

#: kept on the activation with the message fields but never refused as unknown: a drill's exercise
#: declaration (NIST SP 800-34 §3.5.1: objectives, type, facilitator, scope, logistics), for its report
RECORD_FIELDS: tuple[str, ...] = tuple(name for name in EXERCISE_FIELDS if name not in CONTENT_FIELDS)

DEFAULT_REQUIRED: Mapping[ActivationKind, tuple[str, ...]] = {
    ActivationKind.INCIDENT: ("nature", "convene", "instructions"),
    ActivationKind.DRILL: ("scenario",),
    ActivationKind.TEST: ("scenario",),
}


@dataclass(frozen=True)
class Content:
    """The fields an activation starts with, and what is wrong with what was given."""

    fields: dict[str, str]
    missing: tuple[str, ...] = ()  # required, empty after every default
    unknown: tuple[str, ...] = ()  # given names that are not content fields

    def problems(self, tree_id: str, kind: ActivationKind) -> list[str]:
        """One line per problem, each starting with its field path (`fields.convene: ...`)."""
        known = ", ".join(CONTENT_FIELDS)
        lines = [f"fields.{name}: unknown message field (known: {known})" for name in self.unknown]
        lines += [
            f"fields.{name}: required for a {kind.value} of call tree {tree_id!r} "
            f"({CONTENT_FIELDS[name]}); no default in the tree or the organisation"
            for name in self.missing
        ]
        return lines


def required_fields(tree: CallTree, kind: ActivationKind) -> tuple[str, ...]:
    return tree.required_fields.get(kind, DEFAULT_REQUIRED[kind])


def _hours(value: float) -> str:
    return f"{value:g} h"


def outage_estimate_for(plan: Plan, service: Service) -> str:
    """The estimate the BIA gives before anyone knows better: the RTO tier's bound and the MTD."""
    notes: list[str] = []
    bound = ""
    tier = plan.organisation.rto_tiers.get(service.rto_tier) if service.rto_tier is not None else None
    if tier is not None:
        if tier.max_hours is not None and tier.min_hours > 0:
            bound = f"{_hours(tier.min_hours)} to {_hours(tier.max_hours)}"
        elif tier.max_hours is not None:
            bound = f"up to {_hours(tier.max_hours)}"
        else:
            bound = f"more than {_hours(tier.min_hours)}"
        notes.append(f"RTO tier {service.rto_tier}")
    if service.mtd_hours is not None:
        notes.append(f"MTD {_hours(service.mtd_hours)}")
    if not notes:
        return ""
    return f"{bound} ({', '.join(notes)})" if bound else ", ".join(notes)


def in_charge_for(plan: Plan, tree: CallTree) -> str:
    """The coordinator role and the person who holds it first, e.g. "ISCP Coordinator (A. Name)"."""
    role_id = tree.coordinator_role or plan.organisation.coordinator_role
    role = plan.role(role_id) if role_id else None
    if role is None:
        return ""
    primary = plan.person(role.primary) if role.primary else None
    return f"{role.name} ({primary.name})" if primary else role.name


def complete_content(
    plan: Plan, tree: CallTree, kind: ActivationKind, given: Mapping[str, str]
) -> Content:
    """The fields an activation of `tree` starts with: given, derived, defaults (see module doc)."""
    unknown = tuple(name for name in given if name not in CONTENT_FIELDS and name not in RECORD_FIELDS)
    fields = {name: value.strip() for name, value in given.items() if name in CONTENT_FIELDS}
    record = {name: value.strip() for name, value in given.items() if name in RECORD_FIELDS and value.strip()}
    derived: dict[str, str] = {"in_charge": in_charge_for(plan, tree)}
    service = find_service(plan, fields.get("service", ""))
    if service is not None:
        derived["outage_estimate"] = outage_estimate_for(plan, service)
    for source in (derived, tree.message_defaults, plan.organisation.message_defaults):
        for name, value in source.items():
            if name in CONTENT_FIELDS and value.strip() and not fields.get(name):
                fields[name] = value.strip()
    missing = tuple(name for name in required_fields(tree, kind) if not fields.get(name))
    return Content({**record, **{k: v for k, v in fields.items() if v}}, missing, unknown)
