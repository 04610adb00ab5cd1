"""Plan control as NIST SP 800-34 Rev.1 asks for it: approval, review, testing and distribution.

The template's Plan Approval section records who approved the plan, in which role and when, and
that it was "last reviewed on {date}" and "last tested on {date}" (App. A, L3373-3391); §3.6 asks
the coordinator to "maintain a record of copies of the plan and to whom they were distributed"
(L2142-2147). `last_tested` written here is merged with the drills the daemon ran (the newer date
wins), so a drill keeps the record current without anyone editing the file.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from notifier.domain.base import Id, Model


class Approval(Model):
    """The plan approval signature: a role, the person holding it, and the date."""

    role: Id
    person: Id
    date: date


class DistributionEntry(Model):
    """One controlled copy of the plan: who holds it and whether they acknowledged receipt."""

    holder: Id = Field(description="a person id or a role id")
    label: str = Field("", description="which copy: e.g. printed copy 2, alternate site binder, PDF")
    issued: date | None = None
    acknowledged: date | None = None


class Governance(Model):
    approval: Approval | None = None
    last_reviewed: date | None = None
    last_tested: dict[Id, date] = Field(
        default_factory=dict, description="call tree id -> date of its last test or drill"
    )
    distribution: tuple[DistributionEntry, ...] = ()
