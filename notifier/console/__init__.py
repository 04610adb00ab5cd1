"""The coordinators' web console at /console/ (server-rendered pages, live by Server-Sent Events).

`install_console(app, backend)` adds it to the daemon's FastAPI app: same process, same port. The
only routes open without a session are the sign-in form and the static files (vendored htmx and
its SSE extension, the style sheet); everything else needs a signed-in API token of a reading
role, and every change also a coordinator or admin and the form's CSRF token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from notifier.console.backend import ConsoleBackend

STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI, backend: ConsoleBackend) -> None:
    from notifier.console import live, routes, routes_admin, routes_start
    from notifier.console.web import SignInRequired, render

    app.state.console = backend

    async def signed_out(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
            return RedirectResponse("/console/signin", status_code=303)
        return Response("sign in first", status_code=401, headers={"HX-Redirect": "/console/signin"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not request.url.path.startswith("/console"):
            return await http_exception_handler(request, exc)
        return render(request, "error.html", status=exc.status_code, message=str(exc.detail), title="Error")

    app.add_exception_handler(SignInRequired, signed_out)
    app.add_exception_handler(HTTPException, http_error)
    for module in (routes, live, routes_start, routes_admin):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)
