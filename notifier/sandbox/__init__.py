"""A loopback Twilio and SMTP provider for tests, demos and drills without a carrier.

It speaks Twilio's REST wire format (checked against Twilio's own OpenAPI request schemas), sends
signed status callbacks, inbound SMS and TwiML fetches back like Twilio does, and plays scripted
personas on the other end. The real `twilio` SDK is pointed at it with `client.api.base_url`.
"""

from notifier.sandbox.faults import Faults
from notifier.sandbox.harness import Device, Sandbox
from notifier.sandbox.personas import PRESETS, Persona, PersonaBook, load_personas, preset
from notifier.sandbox.records import PlacedCall, RawRequest, ReceivedEmail, SentMessage
from notifier.sandbox.schema import TwilioError, mask_number, validate_form
from notifier.sandbox.signing import SIGNATURE_HEADER, sign

__all__ = [
    "PRESETS",
    "SIGNATURE_HEADER",
    "Device",
    "Faults",
    "Persona",
    "PersonaBook",
    "PlacedCall",
    "RawRequest",
    "ReceivedEmail",
    "Sandbox",
    "SentMessage",
    "TwilioError",
    "load_personas",
    "mask_number",
    "preset",
    "sign",
    "validate_form",
]
