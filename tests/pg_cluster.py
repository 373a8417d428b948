"""A throwaway PostgreSQL cluster for tests that stop, restart or cut off the database.

Such tests cannot use the shared server (127.0.0.1:5432): restarting it would break every
other run on the machine. This one lives in a temporary folder, listens on a free port,
trusts every local client (there is no one else) and skips fsync (its data dies with the
test session anyway). Run as root (as CI does) it runs as the ``postgres`` user, since
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import free_port

# Whoever has no PostgreSQL in /usr/lib (another distribution) names its bin folder here.
BIN_VARIABLE = "TOUCHFLOW_PG_BIN"


def find_bin() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    named = os.environ.get(BIN_VARIABLE)
    candidates = [named] if named else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _run_as() -> str | None:
    """The user the server runs as: ``postgres`` for root, else whoever runs the tests."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "nobody"
    return "postgres"


class Cluster:
    """``initdb`` on creation; ``start``/``stop``/``restart`` with ``pg_ctl``."""

    def __init__(self, bin_dir: Path, settings: dict[str, str] | None = None) -> None:
        self.bin_dir = bin_dir
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="touchflow-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.listen = ["127.0.0.1"]
        self.settings = dict(settings or {})
        if self.user:
            uid, gid = pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid
            os.chown(self.root, uid, gid)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                 "--no-sync", "-E", "UTF8", "--locale", "C")
        self._write_conf()

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            user=self.user, cwd=self.root, capture_output=True, text=True, check=check,
            timeout=120,
        )

    def _write_conf(self) -> None:
        lines = {
            "port": str(self.port),
            "listen_addresses": f"'{','.join(self.listen)}'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "40",
            "shared_buffers": "64MB",
            **self.settings,
        }
        text = "".join(f"{name} = {value}\n" for name, value in lines.items())
        (self.data / "postgresql.auto.conf").write_text(text)

    def allow(self, network: str) -> None:
        """Trust clients from ``network`` too (a test's own network namespace)."""
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {network} trust\n")

    def listen_on(self, *addresses: str) -> None:
        """Listen on 127.0.0.1 and ``addresses`` from the next (re)start on."""
        self.listen = ["127.0.0.1", *addresses]
        self._write_conf()

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                 "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        """A fast restart: every session is cut off, open transactions roll back."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                 "-m", "fast", "-w", "-t", "60", "restart")

    def url(self, database: str, host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
