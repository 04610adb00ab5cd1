"""A real mosquitto broker per test (`bench.mosquitto.Broker`: free ports, persistence on disk so it can
be restarted) and a subscriber that collects what is published."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from bench.mosquitto import Broker


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
