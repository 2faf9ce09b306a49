"""A throwaway PostgreSQL server for tests and benchmarks: a fresh cluster in a temporary
folder, on a free local port, stopped and deleted at the end.

Why not the machine's own server: tests must not depend on (or change) one, and CI starts
from a clean machine with only Debian's ``postgresql`` package installed, whose programs
live in ``/usr/lib/postgresql/<version>/bin`` (not on PATH). PostgreSQL refuses to run as
root, so as root the cluster is owned by and run as the package's ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def server_bin() -> Path | None:
    """The folder with initdb, pg_ctl and psql (Debian's newest installed version, else
    the one on PATH), or None."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _version(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def missing_reason() -> str | None:
    """Why a throwaway server cannot be started here, or None."""
    if server_bin() is None:
        return "PostgreSQL server programs not found (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def cluster(password: str, user: str = "arlib", database: str = "erp") -> Iterator[dict]:
    """Start a server whose ``user`` logs in with ``password`` (SCRAM over TCP) and owns
    ``database``; yields ``{"host", "port", "user", "database"}``."""
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError(missing_reason())
    folder = Path(tempfile.mkdtemp(prefix="arlib-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log, pwfile = folder / "data", folder / "server.log", folder / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if run_as:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    pwfile.chmod(0o600)
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, capture_output=True, cwd=folder)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        env = {**os.environ, "PGPASSWORD": password}
        for _ in range(50):
            ready = subprocess.run(
                [
                    str(bindir / "psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    user,
                    "-d",
                    "postgres",
                    "-c",
                    f"CREATE DATABASE {database}",
                ],
                env=env,
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not accept logins: {ready.stderr.decode()}")
        yield {"host": "127.0.0.1", "port": port, "user": user, "database": database}
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def psql(server: dict, password: str, sql: str) -> None:
    """Run ``sql`` (a script) on the server's database as its user; stops at an error."""
    subprocess.run(
        [
            str(server_bin() / "psql"),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            server["host"],
            "-p",
            str(server["port"]),
            "-U",
            server["user"],
            "-d",
            server["database"],
        ],
        input=sql.encode(),
        env={**os.environ, "PGPASSWORD": password},
        check=True,
        capture_output=True,
    )
