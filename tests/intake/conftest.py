"""A real mosquitto broker per test, on free ports, with persistence on disk so it can be restarted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from tests.engine.conftest import free_port

MOSQUITTO = "/usr/sbin/mosquitto"


class Broker:
    """mosquitto with two listeners: `port` (the daemon) and `side_port` (publishers in tests).

    `start(daemon_listener=False)` opens only the side listener, so a test can publish while the
    daemon cannot connect; persistence keeps sessions and queued QoS 1 messages across restarts.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.side_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, *, daemon_listener: bool = True) -> None:
        listeners = [self.side_port] + ([self.port] if daemon_listener else [])
        conf = self.dir / "mosquitto.conf"
        lines = [f"listener {p} 127.0.0.1\nallow_anonymous true" for p in listeners]
        conf.write_text(
            "\n".join(lines)
            + f"\npersistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
            + "max_queued_messages 1000\nlog_dest stderr\n"
            # as root, mosquitto switches to the `mosquitto` user, which cannot write our temp dir
            + f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        )
        log = (self.dir / f"mosquitto-{self.runs}.log").open("wb")
        self.runs += 1
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        for port in listeners:
            self._wait(port)

    def _wait(self, port: int) -> None:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            assert self.proc is not None and self.proc.poll() is None, "mosquitto exited; see its log"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
            time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on {port}")

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def publish(self, topic: str, payload: str | bytes, *, qos: int = 1) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.side_port),
                "-q",
                str(qos),
                "-t",
                topic,
                "-s",
            ],
            input=data,
            check=True,
            timeout=10,
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    directory = tmp_path / "broker"
    directory.mkdir()
    running = Broker(directory)
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Listener:
    """A test subscriber collecting JSON (or text) payloads per topic."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, bool]] = []

    def on(self, prefix: str) -> list[bytes]:
        return [payload for topic, payload, _ in self.received if topic.startswith(prefix)]

    def json(self, prefix: str) -> list[dict[str, object]]:
        return [json.loads(p) for p in self.on(prefix)]

    async def wait(self, prefix: str, count: int = 1, timeout: float = 15.0) -> list[bytes]:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            if len(self.on(prefix)) >= count:
                return self.on(prefix)
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) on {prefix}, got {self.on(prefix)}")


@contextlib.asynccontextmanager
async def listen(port: int, topic: str) -> AsyncIterator[Listener]:
    listener = Listener()
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"test-listener-{port}") as client:
        await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                listener.received.append((str(message.topic), payload, message.retain))

        task = asyncio.create_task(collect())
        try:
            yield listener
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
