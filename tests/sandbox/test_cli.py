"""`notifier sandbox` as a subprocess: prints its URLs (numbers masked), serves the SDK, stops on SIGINT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from .conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER

CLI = [sys.executable, "-c", "from notifier.cli import main; main()", "sandbox"]


async def test_standalone_sandbox_serves_the_sdk_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    personas = tmp_path / "personas.yaml"
    personas.write_text('personas:\n  - {number: "+32470000001", preset: declines, reply_after: 0.1}\n')
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "--personas",
        str(personas),
        "--account-sid",
        ACCOUNT_SID,
        "--auth-token",
        AUTH_TOKEN,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(20):
        while not lines or lines[-1] != "ready; Ctrl-C to stop":
            lines.append((await process.stdout.readline()).decode().strip())
    banner = "\n".join(lines)
    assert "+32470000001" not in banner and "+3247*****01" in banner
    url = re.search(r"twilio\s+(http://127\.0\.0\.1:\d+)", banner)
    assert url is not None

    async with AsyncTwilioHttpClient(timeout=5) as http_client:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
        client.api.base_url = url.group(1)
        await client.messages.create_async(to="+32470000001", from_=SENDER, body="TARIC down. Reply 1 or 2")
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            view = await (await http.get(f"{url.group(1)}/sandbox/messages")).json()
            if view["inbound"]:
                break
            await asyncio.sleep(0.1)
    assert view["messages"][0]["status"] == "delivered" and view["inbound"][0]["body"] == "2"

    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await process.wait() == 0


async def test_bad_personas_file_is_a_one_line_user_error(tmp_path: Path) -> None:
    personas = tmp_path / "personas.yaml"
    personas.write_text("- {number: +32470000001}\n")
    process = await asyncio.create_subprocess_exec(
        *CLI, "--personas", str(personas), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _stdout, stderr = await process.communicate()
    assert process.returncode == 1
    assert stderr.decode().strip().splitlines() == [
        f'error: {personas}: personas[0]: number: must be a (quoted) string such as "+32470000001"'
    ]
