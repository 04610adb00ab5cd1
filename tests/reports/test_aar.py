"""The after-action report of a drill: the exercise as declared, every participant with an outcome,
corrective actions with an owner role, a due date and the plan version that fixed them, and times on
the organisation's (Brussels) clock."""

from __future__ import annotations

from notifier.domain.calltree import ActivationKind
from notifier.domain.exercise import Exercise, ExerciseType
from notifier.reports.activity_log import after_action_report
from notifier.reports.figures import compute
from tests.reports.scenario import play_seed_outage, seed_snapshot

EXERCISE = Exercise(
    exercise_type=ExerciseType.TABLETOP,
    objectives=("Every team leader confirms within 15 minutes",),
    facilitator="Outside observer, DIGIT",
    scope="SEED outage tree",
    scenario="SEED unavailable during the excise community's business hours",
)


def aar(**follow_up: object) -> str:
    driver = play_seed_outage(seed_snapshot(ActivationKind.DRILL))
    record = driver.record()
    record = type(record)(**{**record.__dict__, "fields": {**record.fields, **EXERCISE.to_fields()}})
    data = compute(record, driver.log, [])
    return after_action_report(data.model_copy(update=follow_up))


def test_the_exercise_as_declared() -> None:
    text = aar()
    assert "## 0. The exercise" in text
    assert "- Type: tabletop" in text and "- Facilitator: Outside observer, DIGIT" in text
    assert "- Scenario: SEED unavailable during the excise community's business hours" in text
    assert "- Every team leader confirms within 15 minutes" in text.split("## 1.")[1].split("## 2.")[0]
    assert "- objectives:" not in text  # declared fields are not repeated as raw message fields


def test_every_participant_is_listed_with_an_outcome() -> None:
    text = aar()
    table = text.split("### Participants")[1].split("### Not reached")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Participant" not in line]
    assert len(rows) == 15
    assert any("Dirk Database" in r and "not reached" in r for r in rows)
    assert any("declined" in r for r in rows)


def test_corrective_actions_have_owner_due_date_and_fix() -> None:
    text = aar(action_owner="ISCP Coordinator", fixed_in={"p-db-lead": 7})
    actions = text.split("## 4. Corrective actions")[1].split("## 5.")[0]
    dirk = next(line for line in actions.splitlines() if "Dirk Database" in line)
    assert dirk.endswith("| ISCP Coordinator | 2026-04-09 | version 7 |")
    assert any(line.endswith("| open |") for line in actions.splitlines())


def test_times_are_the_organisations() -> None:
    assert "started 2026-03-10 10:00:00 CET" in aar()  # 09:00 UTC in Brussels winter time
