"""The business impact analysis of one service, as NIST SP 800-34 Rev.1 Appendix B asks for it.

The ITSCP of seed 000 gives RTO and RPO as tiers (Tables 3-3, 3-4); NIST asks for hours
("in hourly increments (i.e., 8 hours, 36 hours, 97 hours, etc.)", App. B) with the drivers behind
each figure, the mission/business processes and their impact per organisation-defined category,
the system resources (component, platform) in recovery-priority order, and the manual work-arounds.
These models hold that; `review.py` judges whether the figures agree with each other.
"""

from __future__ import annotations

from pydantic import Field

from notifier.domain.base import Id, Model


class ImpactCategory(Model):
    """An organisation-defined impact category (NIST App. B: "Cost", "harm to individuals"...) and
    the values it may take, each with what it means (e.g. Severe: "> $1 million")."""

    description: str = ""
    values: dict[str, str] = Field(default_factory=dict, description="value name -> what it means")


class BusinessProcess(Model):
    """A mission/business process the service supports, with its impact per category."""

    name: str = Field(min_length=1)
    description: str = ""
    impacts: dict[Id, str] = Field(default_factory=dict, description="impact category -> value")
    mtd_hours: float | None = Field(None, gt=0, description="MTD of the process itself")


class Resource(Model):
    """A system resource or component (NIST App. B recovery-priority table)."""

    component: str = Field(min_length=1, description="e.g. Web Server 1")
    platform: str = Field("", description="e.g. Optiplex GX280, Fujitsu RX300")
    description: str = ""
    recovery_priority: int | None = Field(None, ge=1, description="1 is recovered first")
    rto_hours: float | None = Field(None, ge=0)
    site: Id | None = None


class Drivers(Model):
    """Why the MTD, RTO and RPO are what they are (NIST App. B: "a description of the drivers")."""

    mtd: str = ""
    rto: str = ""
    rpo: str = ""
