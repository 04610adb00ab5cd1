"""What `notifier validate` says about message content: field names, placeholders, SMS length.

* A `message_defaults` or `required_fields` entry that names no content field is an error (it
  would never reach a message).
* A template placeholder that is neither a content field nor a system field is a warning (it is
  shown as written, so a typo is visible in a drill rather than silently empty).
* An SMS template that, rendered with the plan's defaults and a typical alert, exceeds one segment
  (160 GSM-7 or 70 UCS-2 characters, reply grammar included) is a warning with the segment count:
  each extra segment is billed and, at a long code's 1 segment per second, sent a second later.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from notifier.domain.calltree import ActivationKind, CallTree, TreeSet
from notifier.domain.content import CONTENT_FIELDS, SYSTEM_FIELDS, complete_content
from notifier.domain.messages import MessageFields, MessageKind, is_gsm7, render, sms_segments
from notifier.domain.plan import ChannelKind, Plan
from notifier.domain.references import Issue

#: what the length check renders with where the plan gives no default: the alert of issue 15
TYPICAL_ALERT = {"nature": "SEED app node 1 down", "service": "SEED", "scenario": "SEED app node 1 down"}
TYPICAL_REF = "K7Q"
_KINDS = {
    "activation": (MessageKind.ACTIVATION, ActivationKind.INCIDENT),
    "update": (MessageKind.UPDATE, ActivationKind.INCIDENT),
    "drill": (MessageKind.DRILL, ActivationKind.DRILL),
    "deactivation": (MessageKind.DEACTIVATION, ActivationKind.INCIDENT),
}


def check_templates(plan: Plan | None, trees: TreeSet | None, complete: bool) -> list[Issue]:
    """Every content problem; the SMS length only when `complete` (plan and trees both valid)."""
    issues: list[Issue] = []
    known = set(CONTENT_FIELDS) | set(SYSTEM_FIELDS)
    if plan is not None:
        for name in getattr(plan.organisation, "message_defaults", {}) or {}:
            if name not in CONTENT_FIELDS:
                issues.append(_unknown("plan", ("organisation", "message_defaults", name), name))
    for t, tree in enumerate(trees.calltrees if trees is not None else ()):
        base = ("calltrees", t)
        for name in tree.message_defaults:
            if name not in CONTENT_FIELDS:
                issues.append(_unknown("trees", (*base, "message_defaults", name), name))
        for kind, names in tree.required_fields.items():
            for i, name in enumerate(names):
                if name not in CONTENT_FIELDS:
                    issues.append(_unknown("trees", (*base, "required_fields", kind.value, i), name))
        for kind_name in type(tree.templates).model_fields:
            template = getattr(tree.templates, kind_name)
            for channel, text in template.model_dump().items():
                for name in sorted(set(re.findall(r"\{(\w+)\}", text or "")) - known):
                    issues.append(
                        Issue(
                            "trees",
                            (*base, "templates", kind_name, channel),
                            f"placeholder {{{name}}} is not a message field and is shown as written "
                            f"(fields: {', '.join(known)})",
                            severity="warning",
                        )
                    )
            if complete and plan is not None and template.sms and kind_name in _KINDS:
                issue = _sms_length(plan, tree, base, kind_name)
                if issue is not None:
                    issues.append(issue)
    return issues


def _unknown(source: str, path: tuple[str | int, ...], name: str) -> Issue:
    return Issue(
        "plan" if source == "plan" else "trees",
        path,
        f"{name!r} is not a message field (fields: {', '.join(CONTENT_FIELDS)})",
    )


def _sms_length(plan: Plan, tree: CallTree, base: tuple[str | int, ...], kind_name: str) -> Issue | None:
    message_kind, activation_kind = _KINDS[kind_name]
    fields = complete_content(plan, tree, activation_kind, TYPICAL_ALERT).fields
    message = replace(MessageFields(tree=tree.name, ref=TYPICAL_REF), **dict[str, Any](fields))
    text = render(message_kind, ChannelKind.SMS, message, tree.templates, activation_kind).text
    segments = sms_segments(text)
    if segments <= 1:
        return None
    encoding, single = ("GSM-7", 160) if is_gsm7(text) else ("UCS-2", 70)
    return Issue(
        "trees",
        (*base, "templates", kind_name, "sms"),
        f"the rendered SMS is {len(text)} characters: {segments} segments ({encoding} fits {single} in one); "
        f"rendered with the plan's defaults and nature {TYPICAL_ALERT['nature']!r}",
        severity="warning",
    )
