"""Error answers: a field path and a message for bad input, a status for each engine error.

No request ever gets a traceback: a body that is not JSON is 400 with the position, one too large
413, input beyond a limit (docs/limits.md) or invalid fields 422 with their JSON paths, a store
failure (raised by the engine or by the database driver) is 503
(senders retry), anything unforeseen is a bare 500 that is logged with its stack trace on our side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from notifier.api.engine_api import Conflict, EngineError, NotFound, Rejected, StoreUnavailable
from notifier.api.limits import rejected_response
from notifier.domain.alerts import PayloadError
from notifier.domain.jsonlimits import JsonRejected

log = structlog.get_logger(__name__)


def field_path(loc: Sequence[Any]) -> str:
    """("body", "alerts", 2, "labels") -> "alerts[2].labels"."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


#: problems listed in one answer; a body with 60,000 bad fields gets the first ones and a count
MAX_PROBLEMS = 20


def problem_response(status: int, error: str, problems: list[str]) -> JSONResponse:
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
    return JSONResponse(status_code=status, content={"error": error, "problems": problems})


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        path = field_path(item.get("loc", ()))
        message = str(item.get("msg", "invalid"))
        problems.append(f"{path}: {message}" if path else message)
    return problem_response(422, "invalid request", problems)


async def _payload(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return problem_response(422, "invalid alert payload", exc.messages())


_ENGINE_STATUS: dict[type[EngineError], int] = {
    StoreUnavailable: 503,
    NotFound: 404,
    Conflict: 409,
    Rejected: 422,
}


async def _rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JsonRejected)
    return rejected_response(exc)


async def _engine(request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in _ENGINE_STATUS.items() if isinstance(exc, kind)), 500)
    headers = {"Retry-After": "5"} if status == 503 else None
    if status >= 500:
        log.warning("engine_error", path=request.url.path, error=type(exc).__name__)
    content: dict[str, Any] = {"error": str(exc) or type(exc).__name__}
    if getattr(exc, "problems", ()):
        content = {"error": "invalid request", "problems": list(getattr(exc, "problems", ()))}
    return JSONResponse(status_code=status, content=content, headers=headers)


async def _store(request: Request, exc: Exception) -> JSONResponse:
    """The database is unreachable (down, restarting, pool exhausted) before the engine could say so,
    e.g. while checking a bearer token: a transient failure, so 503 and the sender retries."""
    log.warning("store_unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        status_code=503,
        content={"error": "the store is unavailable; retry later"},
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_api_error", path=request.url.path)
    return JSONResponse(status_code=500, content={"error": "internal error"})


async def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer the handlers below give `exc`, for ASGI layers that run ahead of FastAPI's router
    (the Twilio webhooks): the same status for the same error, whichever layer served the request."""
    if isinstance(exc, EngineError):
        return await _engine(request, exc)
    if isinstance(exc, DBAPIError | PoolTimeout | ConnectionError):
        return await _store(request, exc)
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(PayloadError, _payload)
    app.add_exception_handler(JsonRejected, _rejected)
    app.add_exception_handler(EngineError, _engine)
    for store_failure in (DBAPIError, PoolTimeout, ConnectionError):
        app.add_exception_handler(store_failure, _store)
    app.add_exception_handler(Exception, _unexpected)
