"""Random damage to valid plan and call-tree files never escapes the loader or the CLI as an exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from notifier.cli import app
from notifier.plan.loader import load, load_texts
from tests.plan.helpers import valid_text

TEXTS = {"plan.yaml": valid_text("plan.yaml"), "nist.yaml": valid_text("nist.yaml")}
GARBAGE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "\t",
            ":",
            "- ",
            "{",
            "]",
            "&a",
            "*a",
            "!!python/object:x",
            "\x00",
            "---\n",
            "? ",
            "<<: *a",
            "'",
            '"',
            "|",
            ">",
            "%YAML 1.1\n",
            "\n  ",
            "~",
            "1e999",
            "18:00",
            "+32",
            "@",
        ]
    ),
)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    text = TEXTS[name]
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["truncate", "insert", "delete", "swap_lines", "duplicate_line"]))
        position = draw(st.integers(0, len(text)))
        if action == "truncate":
            text = text[:position]
        elif action == "insert":
            text = text[:position] + draw(GARBAGE) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) < 2:
                continue
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if action == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "".join(lines)
    return name, text


@settings(max_examples=300, deadline=None)
@given(damaged())
def test_load_never_raises(case: tuple[str, str]) -> None:
    name, text = case
    loaded = load_texts({**TEXTS, name: text})
    for problem in loaded.problems:
        assert problem.message
        problem.format()
    if loaded.ok:
        assert loaded.plan is not None and loaded.trees is not None
    else:
        assert loaded.errors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged())
def test_cli_never_shows_a_traceback(tmp_path: Path, case: tuple[str, str]) -> None:
    name, text = case
    for file, content in {**TEXTS, name: text}.items():
        (tmp_path / file).write_text(content)
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == (0 if load([tmp_path]).ok else 1)
    assert "Traceback" not in result.output
