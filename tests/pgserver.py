"""A real PostgreSQL 15 server for the tests: initdb and pg_ctl from `pg_config --bindir`, run as the
`postgres` user when the tests run as root (the server refuses root), in a temporary folder, listening on a
free port of 127.0.0.1 only (its unix socket in that folder), stopped and removed afterwards."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from anchoring.localnode import free_port

SERVER_USER = "postgres"


def bindir() -> Path:
    found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    return Path(found)


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    folder: Path
    port: int
    created: int = 0

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres", autocommit=True)

    def new_database(self, prefix: str = "test") -> str:
        """A new empty database; its SQLAlchemy URL."""
        self.created += 1
        name = f"{prefix}_{self.created}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def pids(self) -> list[int]:
        """Processes of this server still running (found by its data folder on their command line)."""
        listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
        return [int(line.split()[0]) for line in listing.splitlines()[1:] if str(self.data) in line]

    def stop(self) -> None:
        pg_ctl = str(bindir() / "pg_ctl")
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(self.data), "stop", "-m", "fast", "-w", "-t", "60"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    folder = Path(tempfile.mkdtemp(prefix="credanchor-pg-"))
    folder.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    server = PostgresServer(folder, free_port())
    tools = bindir()
    initdb = [str(tools / "initdb"), "-D", str(server.data), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8"]
    subprocess.run(_as_server_user([*initdb, "--locale=C", "--no-sync"]), capture_output=True, check=True)
    settings = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={folder} "
        "-c fsync=off -c max_connections=200"
    )
    start = [str(tools / "pg_ctl"), "-D", str(server.data), "-l", str(folder / "server.log"), "-o", settings]
    try:
        subprocess.run(_as_server_user([*start, "-w", "-t", "60", "start"]), capture_output=True, check=True)
    except subprocess.CalledProcessError as exc:
        log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r} {log}") from None
    return server
