"""A real mosquitto broker on free loopback ports, for the MQTT benchmark and the MQTT tests.

Lives here rather than in tests/ so that `bench` can import it; tests/intake, tests/ops and
tests/reliability use it too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.harness import free_port

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
