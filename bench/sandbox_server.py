"""The sandbox as its own process for the benchmarks, plus a small stats port.

Why a separate process: the broadcast ratio compares our engine with a bare client against the same
provider; if the provider shared our interpreter it would steal the engine's CPU and flatter the
baseline. The stats port answers with exact arrival times (the sandbox's own JSON view carries
RFC 2822 dates, whole seconds), which the latency and rate benchmarks need.

Run: python -m bench.sandbox_server PORT STATS_PORT ACCOUNT_SID AUTH_TOKEN [INBOUND_SMS_URL]
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiohttp import web

from notifier import eventloop
from notifier.sandbox import Sandbox


async def main(port: int, stats_port: int, sid: str, token: str, inbound: str | None) -> None:
    box = Sandbox(sid, token, inbound_sms_url=inbound, port=port, smtp_port=None)
    await box.start()
    state = box.state

    async def requests(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        rows = [
            [r.at.timestamp(), r.path.rsplit("/", 1)[-1], (r.form.get("From") or [""])[0], r.status]
            for r in state.requests[since:]
        ]
        return web.json_response({"requests": rows})

    async def count(request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": len(state.requests), "messages": len(state.messages), "tasks": len(state._tasks)}
        )

    async def span(request: web.Request) -> web.Response:
        """Count, first and last arrival (epoch s) of one resource: the sweep's 100,000 rows stay here."""
        resource = request.query.get("resource", "Messages.json")
        times = [r.at.timestamp() for r in state.requests if r.path.endswith("/" + resource)]
        return web.json_response(
            {"count": len(times), "first": min(times, default=None), "last": max(times, default=None)}
        )

    async def reset(request: web.Request) -> web.Response:
        await state.cancel_tasks()
        state.requests.clear()
        state.messages.clear()
        state.calls.clear()
        state.inbound.clear()
        state.opt_outs.clear()
        if "inbound" in request.query:
            state.inbound_sms_url = request.query["inbound"] or None
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/bench/requests", requests)
    app.router.add_get("/bench/count", count)
    app.router.add_get("/bench/span", span)
    app.router.add_post("/bench/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", stats_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await box.stop()
    await runner.cleanup()


if __name__ == "__main__":
    args = sys.argv[1:]
    # The loop `python -m bench` runs the clients and the daemon on (uvloop where installed), so the
    # provider is not handicapped against them: on uvloop the sandbox needs ~13% less CPU per SMS.
    eventloop.run(main(int(args[0]), int(args[1]), args[2], args[3], args[4] if len(args) > 4 else None))
