"""The error answers of every API operation, written into `/openapi.json`.

FastAPI documents only the success status and 422 of the models it validates. The error answers
come from layers it does not see (`BodyLimits`, the bearer-token check, the engine's errors, the
store), so they are added here, by what each operation has, for every route including ones added
later:

| status | when | operations |
|---|---|---|
| 400 | the body is not JSON (or not UTF-8) | those with a request body |
| 401 | no valid bearer token | every /api/ operation |
| 403 | the token's role may not do this | every /api/ operation |
| 404 | no such activation (or other path resource) | those with a path parameter |
| 409 | the activation is in a state that forbids it | POST on a path resource |
| 413 | the body is larger than the limit | those with a request body |
| 414 | the query string is longer than the limit | those with query parameters |
| 422 | invalid fields, input beyond a limit (docs/limits.md) | every /api/ operation |
| 503 | the store is unavailable; retry (Retry-After) | every /api/ operation, and /readyz |
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_PROBLEM = {
    "title": "Problem",
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "string"}},
        "detail": {},
    },
}
_WHY = {
    400: "The body is not JSON (or not UTF-8 text).",
    401: "A valid bearer token is required.",
    403: "The token's role may not do this.",
    404: "Not found.",
    409: "The activation's state does not allow this.",
    413: "The body is larger than the limit (docs/limits.md).",
    414: "The query string is longer than the limit (docs/limits.md).",
    422: "Invalid input: each problem with its field path.",
    503: "The store is unavailable; retry after the Retry-After seconds.",
}


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer (the table above)."""
    if not path.startswith("/api/"):
        return [503] if path == "/readyz" else []
    statuses = [401, 403, 422, 503]
    if "requestBody" in operation:
        statuses += [400, 413]
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.append(414)
    if "{" in path:
        statuses.append(404)
        if method == "post":
            statuses.append(409)
    return sorted(statuses)


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` list every operation's error answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in error_statuses(path, method, operation):
                    responses.setdefault(
                        str(status),
                        {"description": _WHY[status], "content": {"application/json": {"schema": _PROBLEM}}},
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
