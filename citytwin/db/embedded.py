"""The embedded default: a project-local PostGIS cluster, created and started on demand.

Runs the Debian PostgreSQL binaries. As root (CI), the server runs as Debian's unprivileged
`postgres` user, because initdb and postgres refuse to run as root.
"""

import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from citytwin.errors import EmbeddedClusterError
from citytwin.settings import Settings

SUPERUSER = "citytwin"
SERVER_CONF = """
listen_addresses = '127.0.0.1'
shared_buffers = '512MB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
max_wal_size = '4GB'
checkpoint_timeout = '15min'
wal_compression = on
jit = off
"""


def _bin_dir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise EmbeddedClusterError(
            "PostgreSQL is not installed: run `make setup` (installs postgresql and postgis)"
        )
    return candidates[-1].parent


def _server_user() -> str | None:
    """The user the server runs as: None for the current one, `postgres` when we are root."""
    return "postgres" if os.geteuid() == 0 else None


def _readable_by(user: str | None, path: Path) -> bool:
    if user is None:
        return True
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)], check=False)
    return probe.returncode == 0


@dataclass(frozen=True)
class Cluster:
    """Where the embedded cluster lives and how to reach it."""

    root: Path
    port: int
    database: str

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"


def cluster_for(settings: Settings) -> Cluster:
    """The embedded cluster's place: `<state_dir>/pg`, or a system folder if root's server user
    cannot reach the project (e.g. a clone under /root)."""
    root = settings.database.state_dir / "pg"
    user = _server_user()
    if not _readable_by(user, settings.database.state_dir.parent):
        digest = hashlib.sha1(str(settings.database.state_dir).encode()).hexdigest()[:12]
        root = Path("/var/lib/citytwin") / digest / "pg"
    return Cluster(
        root=root, port=settings.database.pg_port, database=settings.database.pg_database
    )


def _run(args: list[str], cluster: Cluster, check: bool = True) -> subprocess.CompletedProcess:
    user = _server_user()
    command = ["runuser", "-u", user, "--", *args] if user else args
    # The server inherits the working directory, which its user must be able to read.
    result = subprocess.run(command, cwd=cluster.root, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise EmbeddedClusterError(f"{Path(args[0]).name} failed: {result.stderr or result.stdout}")
    return result


def _initdb(cluster: Cluster) -> None:
    cluster.root.mkdir(parents=True, exist_ok=True)
    user = _server_user()
    if user:
        shutil.chown(cluster.root, user=user, group=pwd.getpwnam(user).pw_gid)
    _run(
        [
            str(_bin_dir() / "initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ],
        cluster,
    )
    with (cluster.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(SERVER_CONF)


def is_running(cluster: Cluster) -> bool:
    """Whether the cluster's server is up."""
    if not (cluster.data_dir / "PG_VERSION").exists():
        return False
    status = _run(
        [str(_bin_dir() / "pg_ctl"), "-D", str(cluster.data_dir), "status"], cluster, check=False
    )
    return status.returncode == 0


def start(cluster: Cluster) -> bool:
    """Create (first time) and start the cluster; False if it was already running."""
    if not (cluster.data_dir / "PG_VERSION").exists():
        _initdb(cluster)
    if is_running(cluster):
        return False
    # TCP on loopback only: a unix socket path inside a deep clone can exceed the 107-byte limit.
    try:
        _run(
            [
                str(_bin_dir() / "pg_ctl"),
                "-D",
                str(cluster.data_dir),
                "-l",
                str(cluster.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {cluster.port} -c unix_socket_directories=''",
                "start",
            ],
            cluster,
        )
    except EmbeddedClusterError as exc:
        log = cluster.log_file.read_text(errors="replace").splitlines()[-5:]
        hint = (
            f" (port {cluster.port} taken? set CITYTWIN_PG_PORT)"
            if any("Address already in use" in line for line in log)
            else ""
        )
        raise EmbeddedClusterError(f"{exc}; server log: {' | '.join(log)}{hint}") from None
    return True


def stop(cluster: Cluster) -> bool:
    """Stop the cluster; False if it was not running."""
    if not is_running(cluster):
        return False
    _run(
        [str(_bin_dir() / "pg_ctl"), "-D", str(cluster.data_dir), "-m", "fast", "-w", "stop"],
        cluster,
    )
    return True
