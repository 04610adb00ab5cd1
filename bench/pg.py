"""A throw-away PostgreSQL cluster for the benchmarks (same recipe as tests/conftest.py, without pytest)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresCluster:
    def __init__(self) -> None:
        self.bindir = _bindir()
        self.workdir = Path(tempfile.mkdtemp(prefix="notifier-bench-pg-"))
        self.port = _free_port()
        self.count = 0
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user is not None:
            os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True)

    def start(self) -> PostgresCluster:
        data = self.workdir / "data"
        init = self._run(
            [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]
        )
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        # fsync off as in the test suite: the benchmark measures the engine, not this VM's disk
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        log = self.workdir / "server.log"
        started = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
        )
        if started.returncode:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}")
        return self

    def create_database(self) -> str:
        self.count += 1
        name = f"bench_{os.getpid()}_{self.count}"
        subprocess.run(
            [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.workdir / "data"), "-m", "immediate", "-w", "stop"],
        )
        shutil.rmtree(self.workdir, ignore_errors=True)


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; apt-get install postgresql")
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
