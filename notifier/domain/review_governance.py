"""Review rules on plan control: approval, review, testing and distribution (NIST SP 800-34 Rev.1
§3.5-3.6 and the template's Plan Approval section). A tree's last test is the newer of the plan's
record and the latest drill the daemon ran (`Review.tested`)."""

from __future__ import annotations

from collections.abc import Iterator

from notifier.domain.findings import Finding, Review

_BASE = ("organisation", "governance")


def check_approval(r: Review) -> Iterator[Finding]:
    """The plan needs an approval signature: a role, the person holding it, a date."""
    approval = r.plan.organisation.governance.approval
    if approval is None:
        message = "the plan has no approval (role, person, date): record who approved it and when"
        yield Finding("plan-not-approved", "warning", "plan", ("organisation",), "approval", message)
        return
    role = r.plan.role(approval.role)
    if role is not None and approval.person not in role.holders:
        message = (
            f"the plan was approved by {approval.person} as {approval.role}, a role they do not hold: "
            "record the approver's own role"
        )
        yield Finding(
            "plan-approval-not-holder", "warning", "plan", (*_BASE, "approval", "person"), "approval", message
        )


def check_review_dates(r: Review) -> Iterator[Finding]:
    """The plan is reviewed every `plan_review_days`: never reviewed or overdue is a finding."""
    governance = r.plan.organisation.governance
    limit = r.plan.organisation.review_policy.plan_review_days
    if governance.last_reviewed is None:
        message = "the plan has no last_reviewed date: review it and record the date"
        yield Finding("plan-never-reviewed", "warning", "plan", ("organisation",), "last_reviewed", message)
        return
    age = (r.today - governance.last_reviewed).days
    if age > limit:
        message = f"the plan was last reviewed {age} days ago (review policy: every {limit} days): review it"
        yield Finding(
            "plan-review-overdue", "warning", "plan", (*_BASE, "last_reviewed"), "last_reviewed", message
        )


def check_trees_tested(r: Review) -> Iterator[Finding]:
    """Every call tree is tested (drilled) at least every `tree_test_days`."""
    assert r.trees is not None
    limit = r.plan.organisation.review_policy.tree_test_days
    for index, tree in enumerate(r.trees.calltrees):
        last = r.tested.get(tree.id)
        if last is None:
            message = f"call tree {tree.id} has never been tested: run a drill (`notifier drill {tree.id}`)"
        elif (r.today - last).days > limit:
            message = (
                f"call tree {tree.id} was last tested {(r.today - last).days} days ago "
                f"(every {limit} days): run a drill"
            )
        else:
            continue
        yield Finding("tree-untested", "warning", "trees", ("calltrees", index), tree.id, message)


def check_distribution(r: Review) -> Iterator[Finding]:
    """NIST: the coordinator "should maintain a record of copies of the plan and to whom they were
    distributed"; a copy nobody acknowledged may never have arrived (info)."""
    governance = r.plan.organisation.governance
    if not governance.distribution:
        message = "the plan has no distribution list: record who holds each copy of the plan"
        yield Finding("plan-no-distribution", "warning", "plan", ("organisation",), "distribution", message)
    for index, entry in enumerate(governance.distribution):
        if entry.acknowledged is None:
            message = f"{entry.holder} has not acknowledged receiving their copy of the plan"
            yield Finding(
                "distribution-unacknowledged",
                "info",
                "plan",
                (*_BASE, "distribution", index),
                entry.holder,
                message,
            )
