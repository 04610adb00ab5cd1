"""Shared fixtures: a throw-away PostgreSQL cluster and a `db_url` over SQLite and PostgreSQL.

The cluster is started once per test session from the local binaries (`initdb`, `pg_ctl`) in a
temporary directory on a free port, so the PostgreSQL tests need no running server and no
credentials. A missing binary is a failure, not a skip: CI must not go green without PostgreSQL.
`db_url` gives every test its own empty database (no schema); `migrated_db_url` adds the schema.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; "
    "install them with: apt-get install postgresql"
)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    bindir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy async URL."""
        subprocess.run(
            [str(self.bindir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
            check=True,
            capture_output=True,
        )
        return self.url(name)


def _find_bindir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    pytest.fail(_INSTALL_HINT, pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """initdb and postgres refuse to run as root; as root, run them as the `postgres` OS user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "tests run as root but there is no 'postgres' OS user to run the server as; "
            "apt-get install postgresql creates it",
            pytrace=False,
        )


def _as_server_user(command: list[str]) -> list[str]:
    return command if _server_user() is None else ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _find_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="notifier-pg-"))
    user = _server_user()
    if user is not None:
        os.chown(workdir, user.pw_uid, user.pw_gid)
    datadir, logfile = workdir / "data", workdir / "server.log"
    run = lambda cmd: subprocess.run(_as_server_user(cmd), capture_output=True, text=True)  # noqa: E731
    init = run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed: {init.stderr.strip()}", pytrace=False)
    port = _free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    pg_ctl = str(bindir / "pg_ctl")
    start = run([pg_ctl, "-D", str(datadir), "-l", str(logfile), "-o", options, "-w", "start"])
    if start.returncode != 0:
        log = logfile.read_text() if logfile.exists() else ""
        pytest.fail(f"pg_ctl start failed: {start.stderr.strip()} {log[-2000:]}", pytrace=False)
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres", bindir=bindir)
    finally:
        run([pg_ctl, "-D", str(datadir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(workdir, ignore_errors=True)


_database_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of its own for this test, as a SQLAlchemy async URL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
async def migrated_db_url(db_url: str) -> str:
    """`db_url` with every migration applied."""
    from notifier.store.db import upgrade_async

    await upgrade_async(db_url)
    return db_url


# --- parallel runs (pytest-xdist: `scripts/test.sh` runs `-n 3 --dist loadgroup --no-loadscope-reorder`)
#
# Most of the suite's wall time is tests waiting on real clocks and subprocesses (carrier rates,
# kill -9 trials, database outages), so a few workers on 2 cores nearly halve it. Every worker has
# its own PostgreSQL cluster (`postgres_server` is per session, i.e. per worker), its own temporary
# directories and free ports. The tests of a module that shares a module- (or class-, package-)
# scoped fixture stay together on one worker, so that fixture (a daemon, a browser, a broker) starts
# once; every other test is scheduled on its own. The slow tests are handed out first, so no long
# trial is left to run alone at the end.

_SHARED_SCOPES = {"module", "class", "package"}


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the groups into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # (on a worker, xdist has set `dist` to "no" and kept `--dist loadgroup` as `loadgroup`)
    if not hasattr(config, "workerinput") or not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    # a stable sort: modules with slow tests first, each module's tests in their usual order
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)
