"""Check Twilio REST requests against Twilio's own OpenAPI request schemas.

Why: a fake that accepts anything lets bugs through that real Twilio would refuse. The package ships
`twilio_request_schemas.json`, an extract of the `CreateMessageRequest` and `CreateCallRequest`
form schemas (and the enums they reference) from twilio/twilio-oai `twilio_api_v2010.json`
(MIT licence, Copyright (c) Twilio Inc.). Regenerate it with
`python -m notifier.sandbox.schema /path/to/twilio_api_v2010.json`.

The OpenAPI text says only what a field *is*; the rules that span fields (From or
MessagingServiceSid; Body, MediaUrl or ContentSid; Url, Twiml or ApplicationSid) come from Twilio's
documentation and error codes and are encoded here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("twilio_request_schemas.json")
_OPERATIONS = {
    "CreateMessageRequest": "/2010-04-01/Accounts/{AccountSid}/Messages.json",
    "CreateCallRequest": "/2010-04-01/Accounts/{AccountSid}/Calls.json",
}
_ORIGIN = (
    "Extracted from twilio/twilio-oai spec/json/twilio_api_v2010.json (MIT licence, Copyright (c) "
    "Twilio Inc.) by notifier.sandbox.schema.extract; do not edit by hand."
)
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_BOOLEANS = {"true", "false", "True", "False"}


@dataclass(frozen=True)
class TwilioError(Exception):
    """A refusal in Twilio's words: HTTP status, Twilio error code, message."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        """The legacy JSON error body twilio-python turns into `TwilioRestException`."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def extract(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the two request schemas and the enum components they reference out of the full spec."""
    out: dict[str, Any] = {"_origin": _ORIGIN, "schemas": {}, "enums": {}}
    components = spec["components"]["schemas"]
    for title, path in _OPERATIONS.items():
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        schema = body["schema"]
        properties: dict[str, Any] = {}
        for name, prop in schema["properties"].items():
            kept = {k: v for k, v in prop.items() if k != "description"}
            ref = kept.get("$ref")
            if ref:
                enum_name = ref.rsplit("/", 1)[-1]
                out["enums"][enum_name] = components[enum_name]
            properties[name] = kept
        out["schemas"][title] = {"required": schema.get("required", []), "properties": properties}
    return out


@cache
def load_schemas() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return data


def _check_value(name: str, value: str, prop: Mapping[str, Any], enums: Mapping[str, Any]) -> None:
    ref = prop.get("$ref")
    if ref:
        prop = enums[ref.rsplit("/", 1)[-1]]
    kind = prop.get("type", "string")
    bad = TwilioError(400, 21201 if kind != "string" else 21200, f"Invalid value for parameter {name}")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        raise bad
    if kind == "number":
        try:
            float(value)
        except ValueError:
            raise bad from None
    if kind == "boolean" and value not in _BOOLEANS:
        raise bad
    if "enum" in prop and value not in prop["enum"]:
        raise TwilioError(400, 21201, f"Invalid value '{value}' for parameter {name}")
    if "pattern" in prop and not re.fullmatch(prop["pattern"], value):
        raise bad
    if prop.get("format") == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad from None
    ignore_format = prop.get("x-twilio", {}).get("ignoreFormat")
    if prop.get("format") == "uri" and not ignore_format and not re.match(r"^https?://[^\s/]+", value):
        raise TwilioError(400, 21609 if "Callback" in name else 21205, f"Invalid {name} URL: {value}")


def validate_form(title: str, form: Mapping[str, list[str]]) -> None:
    """Raise `TwilioError` for a form Twilio would refuse; `form` maps each key to all its values."""
    data = load_schemas()
    schema = data["schemas"][title]
    properties: Mapping[str, Any] = schema["properties"]
    for name, values in form.items():
        prop = properties.get(name)
        if prop is None:
            raise TwilioError(400, 21200, f"Unknown parameter: {name}")
        if prop.get("type") != "array" and len(values) > 1:
            raise TwilioError(400, 21200, f"Parameter {name} must not be repeated")
        item_prop = prop.get("items", {}) if prop.get("type") == "array" else prop
        for value in values:
            _check_value(name, value, item_prop, data["enums"])
    for name in schema["required"]:
        if not _first(form, name):
            raise _missing(title, name)
    if title == "CreateMessageRequest":
        _check_message_rules(form)
    else:
        _check_call_rules(form)


def _first(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _missing(title: str, name: str) -> TwilioError:
    is_message = title == "CreateMessageRequest"
    if name == "To":
        return TwilioError(400, 21604 if is_message else 21201, "A 'To' phone number is required.")
    if name == "From":
        return TwilioError(400, 21603 if is_message else 21213, "A 'From' phone number is required.")
    return TwilioError(400, 21201, f"Missing required parameter {name}")


def _check_message_rules(form: Mapping[str, list[str]]) -> None:
    if not (_first(form, "From") or _first(form, "MessagingServiceSid")):
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not (_first(form, "Body") or form.get("MediaUrl") or _first(form, "ContentSid")):
        raise TwilioError(400, 21602, "Message body is required.")
    if len(_first(form, "Body")) > 1600:
        raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    period = _first(form, "ValidityPeriod")
    if period and not 1 <= int(period) <= 36000:
        raise TwilioError(400, 21201, "ValidityPeriod must be between 1 and 36000 seconds")
    check_e164(_first(form, "To"), "To")


def _check_call_rules(form: Mapping[str, list[str]]) -> None:
    if not (_first(form, "Url") or _first(form, "Twiml") or _first(form, "ApplicationSid")):
        raise TwilioError(400, 21205, "Url parameter is required.")
    if len(_first(form, "Twiml")) > 4000:
        raise TwilioError(400, 21201, "Twiml must not exceed 4000 characters")
    allowed_events = {"initiated", "ringing", "answered", "completed"}
    for event in form.get("StatusCallbackEvent", []):
        if event not in allowed_events:
            raise TwilioError(400, 21626, f"Invalid StatusCallbackEvent: {event}")
    detection = _first(form, "MachineDetection")
    if detection and detection not in {"Enable", "DetectMessageEnd"}:
        raise TwilioError(400, 21201, f"Invalid value '{detection}' for parameter MachineDetection")
    timeout = _first(form, "Timeout")
    if timeout and not 1 <= int(timeout) <= 600:
        raise TwilioError(400, 21201, "Timeout must be between 1 and 600 seconds")
    check_e164(_first(form, "To"), "To")


def check_e164(number: str, field: str) -> None:
    """Twilio answers 21211 for a `To` that is not a phone number in E.164 form."""
    if not _E164.match(number):
        raise TwilioError(400, 21211, f"Invalid '{field}' Phone Number: {mask_number(number)}")


def mask_number(number: str) -> str:
    """`+32470123456` -> `+3247*****56`: enough to tell numbers apart in a log, not to dial them."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


def main(argv: list[str]) -> int:
    """Regenerate the shipped extract from a twilio-oai checkout."""
    if len(argv) != 1:
        print("usage: python -m notifier.sandbox.schema twilio_api_v2010.json", file=sys.stderr)
        return 2
    source = Path(argv[0])
    extracted = extract(json.loads(source.read_text()))
    licence = source.with_name("LICENSE")
    if licence.is_file():
        extracted["_licence"] = licence.read_text()
    SCHEMA_FILE.write_text(json.dumps(extracted, indent=1, sort_keys=True) + "\n")
    load_schemas.cache_clear()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
