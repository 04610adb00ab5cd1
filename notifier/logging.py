"""structlog set-up: JSON lines in production, readable in a terminal, personal data masked.

Masking is a processor over every string value of every event, so no call site can leak a phone
number or an email address by forgetting to mask it (DESIGN §6). Standard-library loggers (uvicorn,
aiomqtt, apscheduler) go through the same processors.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from notifier.domain.masking import mask_text

#: loggers that are quiet (WARNING and above) whatever the level: the Twilio SDK's request log
#: writes nine INFO lines per provider request (headers, parameters); ours writes one
QUIET_LOGGERS = ("aiosqlite", "asyncio", "twilio", "aiohttp.access", "notifier.channels.twilio.http")


class MaskPersonalData:
    """structlog processor: every string value masked, and cut to `max_chars` first (the longest
    value a log line shows; settings.limits.log_value_chars), so one huge input such as a 200 KB
    field name costs a bounded amount of logging."""

    def __init__(self, max_chars: int = 2_000) -> None:
        self.max_chars = max_chars

    def mask(self, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > self.max_chars:
                value = f"{value[: self.max_chars]}... ({len(value)} characters)"
            return mask_text(value)
        if isinstance(value, dict):
            return {k: self.mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.mask(v) for v in value)
        return value

    def __call__(self, _logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        return {key: self.mask(value) for key, value in event.items()}


def configure_logging(
    fmt: str = "auto", level: int = logging.INFO, stream: Any = None, max_value_chars: int = 2_000
) -> None:
    stream = stream or sys.stderr
    json_output = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        MaskPersonalData(max_value_chars),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
