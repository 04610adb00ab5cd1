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


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def mask_personal_data(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    return {key: _mask(value) for key, value in event.items()}


def configure_logging(fmt: str = "auto", level: int = logging.INFO, stream: Any = None) -> None:
    stream = stream or sys.stderr
    json_output = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
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
    for noisy in ("aiosqlite", "asyncio", "twilio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
