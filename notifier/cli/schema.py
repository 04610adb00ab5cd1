"""`notifier schema [plan|calltrees|config]`: the JSON Schema of each file kind.

Editors (VS Code's YAML extension, for one) validate and complete plan files from these schemas;
they are generated from the same pydantic models the loader uses, so they cannot drift.
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from notifier.cli._common import out_console
from notifier.domain.calltree import CallTreeFile
from notifier.domain.durations import format_duration
from notifier.domain.plan import Plan
from notifier.settings import Settings


class Kind(StrEnum):
    PLAN = "plan"
    CALLTREES = "calltrees"
    CONFIG = "config"


_MODELS: dict[Kind, type[BaseModel]] = {Kind.PLAN: Plan, Kind.CALLTREES: CallTreeFile, Kind.CONFIG: Settings}
_TITLES = {
    Kind.PLAN: "ITSCM plan file (config/plan*.yaml)",
    Kind.CALLTREES: "Call trees, escalation policies and routes (calltrees/*.yaml)",
    Kind.CONFIG: "Daemon configuration (config/notifier.yaml)",
}


class _FileSchema(GenerateJsonSchema):
    """Durations are written `5m` in our files, not ISO 8601 `PT5M` as pydantic would document."""

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(?:\d+(?:\.\d+)?\s*[dhmsDHMS]\s*)+$|^\s*\d+\s*$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "a duration such as 30s, 5m, 1h30m or 2d, or a number of seconds",
        }

    def encode_default(self, dflt: Any) -> Any:
        if isinstance(dflt, timedelta):
            return format_duration(dflt)
        return super().encode_default(dflt)


def json_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one file kind, as input to the loader."""
    schema = _MODELS[kind].model_json_schema(mode="validation", schema_generator=_FileSchema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = _TITLES[kind]
    return schema


def schema(
    kind: Annotated[
        Kind | None, typer.Argument(help="plan, calltrees or config (default: all three).")
    ] = None,
) -> None:
    """Print the JSON Schema of plan, call-tree and daemon configuration files."""
    if kind is not None:
        document: dict[str, Any] = json_schema(kind)
    else:
        document = {k.value: json_schema(k) for k in Kind}
    out_console.print(json.dumps(document, indent=2), markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
