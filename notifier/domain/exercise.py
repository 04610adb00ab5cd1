"""What a drill is declared with: the test plan NIST SP 800-34 Rev.1 §3.5 asks for.

"explicit test objectives and success criteria", "scope, scenario, and logistics" (§3.5.1,
L1908-1914), an exercise type from Table 3-6 (tabletop, functional, full-scale) and who facilitates
it (the templates: "an outside or impartial observer", L3783). A drill's activation fields carry
these as plain strings (`to_fields`), so they travel with the activation through the store, the API
and the report without a schema change; `from_fields` reads them back for the after-action report,
and the scenario goes into the drill message itself (`messages.py`), marked DRILL.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field, ValidationError

from notifier.domain.base import Model

OBJECTIVE_SEPARATOR = "; "
FIELD_NAMES = ("exercise_type", "objectives", "facilitator", "scope", "scenario", "logistics")


class ExerciseType(StrEnum):
    """NIST SP 800-34 Rev.1 Table 3-6 (L2019-2116)."""

    TABLETOP = "tabletop"  # discussion-based only
    FUNCTIONAL = "functional"  # exercises communications and emergency notifications (a call-tree drill)
    FULL_SCALE = "full-scale"  # failover to the alternate site, full notification and response


class Exercise(Model):
    exercise_type: ExerciseType = ExerciseType.FUNCTIONAL
    objectives: tuple[str, ...] = Field((), description="objectives and success criteria, one per entry")
    facilitator: str = Field("", description="who conducts or facilitates the exercise")
    scope: str = Field("", description="which trees, teams or sites take part")
    scenario: str = Field("", description="the situation the exercise plays; sent with the drill message")
    logistics: str = ""

    def to_fields(self) -> dict[str, str]:
        """The declaration as activation fields (objectives joined with '; ')."""
        values = {
            "exercise_type": self.exercise_type.value,
            "objectives": OBJECTIVE_SEPARATOR.join(self.objectives),
            "facilitator": self.facilitator,
            "scope": self.scope,
            "scenario": self.scenario,
            "logistics": self.logistics,
        }
        return {k: v for k, v in values.items() if v}

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Exercise:
        """Read a declaration back from activation fields; what does not parse is left at its default."""
        raw = {k: str(fields[k]).strip() for k in FIELD_NAMES if fields.get(k)}
        objectives = tuple(o.strip() for o in raw.pop("objectives", "").split(";") if o.strip())
        try:
            return cls.model_validate({**raw, "objectives": objectives})
        except ValidationError:
            raw.pop("exercise_type", None)
            return cls.model_validate({**raw, "objectives": objectives})
