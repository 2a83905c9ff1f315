"""A throwaway PostgreSQL cluster for tests and benches (initdb in a temp dir, loopback only).

Why: the registry must pass the same tests on SQLite and on a real PostgreSQL, on any
machine with the Debian ``postgresql`` package, without touching a system cluster.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bindir() -> Path | None:
    """Where initdb/pg_ctl live (PATH first, then Debian's versioned directories)."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    if found and Path(found).with_name("pg_ctl").exists():
        return Path(found).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield a ``postgresql+psycopg://`` URL of a fresh cluster; stop and delete it afterwards.

    As root the cluster runs as the ``postgres`` system user (initdb refuses root)."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="weefsel-pg-"))
    if as_root:
        import pwd
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    try:
        subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "weefsel",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, env=env)
        opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={tmp} "
                "-c fsync=off -c max_connections=200 -c shared_buffers=32MB")
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w",
                                 "-l", str(tmp / "log"), "start"], check=True, capture_output=True, env=env)
        yield f"postgresql+psycopg://weefsel@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, env=env)
        shutil.rmtree(tmp, ignore_errors=True)
