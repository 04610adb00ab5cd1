"""A drill is declared with its test plan (NIST SP 800-34 Rev.1 §3.5.1, Table 3-6), and the scenario
travels with the drill message, marked DRILL on every channel; an incident never carries it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from notifier.cli import app
from notifier.domain.calltree import ActivationKind
from notifier.domain.exercise import Exercise, ExerciseType
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind

SCENARIO = "Power loss at ITSM Data Centre Alpha, Service Desk moves to Luxembourg"
EXERCISE = Exercise(
    exercise_type=ExerciseType.FUNCTIONAL,
    objectives=("Every team leader confirms within 15 minutes", "The Luxembourg site answers the phone"),
    facilitator="DIGIT Liaison Officer (impartial observer)",
    scope="nist-sample: coordinator, four team leaders, their teams",
    scenario=SCENARIO,
)


def test_declaration_travels_as_activation_fields_and_back() -> None:
    fields = EXERCISE.to_fields()
    assert (
        fields["objectives"]
        == "Every team leader confirms within 15 minutes; The Luxembourg site answers the phone"
    )
    assert fields["exercise_type"] == "functional"
    assert Exercise.from_fields(fields) == EXERCISE


def test_an_unknown_type_read_back_falls_back_to_functional() -> None:
    read = Exercise.from_fields({"exercise_type": "parallel", "scenario": SCENARIO})
    assert (read.exercise_type, read.scenario) == (ExerciseType.FUNCTIONAL, SCENARIO)


def test_the_three_nist_exercise_types() -> None:
    assert [t.value for t in ExerciseType] == ["tabletop", "functional", "full-scale"]


@pytest.mark.parametrize("channel", list(ChannelKind))
def test_scenario_is_in_every_drill_message_marked_drill(channel: ChannelKind) -> None:
    message = MessageFields(nature="Notification drill", tree="NIST sample", ref="K7Q", scenario=SCENARIO)
    rendered = render(MessageKind.DRILL, channel, message, None, ActivationKind.DRILL)
    assert f"Scenario: {SCENARIO}" in rendered.text
    marked = {
        ChannelKind.SMS: "DRILL: ",
        ChannelKind.VOICE: "This is a drill.",
        ChannelKind.EMAIL: "THIS IS A DRILL.",
    }
    assert rendered.text.startswith(marked[channel])
    if channel is ChannelKind.EMAIL:
        assert rendered.subject is not None and rendered.subject.startswith("[DRILL]")


def test_an_incident_message_never_carries_a_scenario() -> None:
    message = MessageFields(nature="Power loss", tree="NIST sample", ref="K7Q", scenario=SCENARIO)
    for channel in ChannelKind:
        rendered = render(MessageKind.ACTIVATION, channel, message, None, ActivationKind.INCIDENT)
        assert "Scenario" not in rendered.text


def test_drill_start_refuses_an_unknown_exercise_type() -> None:
    result = CliRunner().invoke(app, ["drill", "start", "nist-sample", "--exercise-type", "parallel"])
    assert result.exit_code == 2
    assert "exercise-type" in result.output and "parallel" in result.output
