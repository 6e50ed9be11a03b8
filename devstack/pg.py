"""PostgreSQL, the storage under FerretDB: found on the machine (or installed from Debian's
packages), initialised once per stack folder, started on a free loopback port.

Why PostgreSQL and not SQLite under FerretDB: FerretDB pushes equality filters down to
PostgreSQL (so an update by `_id` and `rev` uses an index instead of scanning the collection),
authenticates clients against PostgreSQL roles, and lets `rev_guard.sql` make conditional
updates atomic. See docs/design.md, "The local MongoDB server".
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from devstack import procs
from devstack.config import StackError, log_stderr
from devstack.secure import load_secrets
from devstack.servers import DATABASE, DATABASE_TLS, Ports, Server

ENV_BINDIR = "DEVSTACK_PG_BINDIR"
_RUN_AS = "postgres"  # PostgreSQL refuses to run as root


def find_bindir() -> Path | None:
    """The folder holding `postgres` and `initdb`: env DEVSTACK_PG_BINDIR, else the newest
    Debian install, else PATH."""
    candidates = [os.environ.get(ENV_BINDIR, "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for folder in filter(None, candidates):
        if all(os.access(Path(folder) / tool, os.X_OK) for tool in ("postgres", "initdb", "psql")):
            return Path(folder)
    return None


def _others_can_reach(folder: Path) -> bool:
    """True when every existing folder on the way to `folder` lets other users through."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (folder, *folder.parents) if p.is_dir())


def _version(folder: str) -> int:
    part = Path(folder).parent.name
    return int(part) if part.isdigit() else 0


def ensure_installed(log: Callable[[str], None] = log_stderr) -> Path:
    """Return the PostgreSQL binaries, installing Debian's server package when they are missing
    and this process may (root with apt-get); otherwise say what to install."""
    found = find_bindir()
    if found:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise StackError(
            "PostgreSQL server binaries were not found: install them (Debian/Ubuntu: apt-get "
            f"install postgresql) or point {ENV_BINDIR} at the folder holding postgres and initdb"
        )
    log("postgresql: installing Debian's server package (apt-get install postgresql)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [apt, "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([apt, "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(f"apt-get install postgresql failed:\n{done.stderr[-2000:]}")
    found = find_bindir()
    if found is None:
        raise StackError("postgresql was installed but its binaries were not found")
    return found


class PostgresServer(Server):
    """A PostgreSQL cluster of this stack; FerretDB connects to it as the stack's user."""

    name = "postgres"
    port_keys = ("port",)
    _found: Path | None = None  # the binaries' folder, once looked up

    @property
    def workdir(self) -> Path:
        """`<stack>/postgres`, unless PostgreSQL (run as user postgres when we are root) could
        not reach it: a clone inside a private folder (mode 0700) gets a folder in /var/tmp."""
        preferred = self.layout.stack_dir / "postgres"
        if os.geteuid() != 0 or _others_can_reach(self.layout.stack_dir):
            return preferred
        digest = hashlib.sha256(str(self.layout.stack_dir).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"batch-service-devstack-{digest}" / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.workdir / "run"

    def markers(self) -> list[str]:
        return ["postgres", f"-D{self.data_dir}"]

    def _bindir(self) -> Path:
        if self._found is None:
            self._found = ensure_installed()
        return self._found

    def _as_owner(self, cmd: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return cmd
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise StackError("running PostgreSQL as root needs `setpriv` (util-linux)")
        return [setpriv, f"--reuid={_RUN_AS}", f"--regid={_RUN_AS}", "--init-groups", *cmd]

    def _chown(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            for path in paths:
                shutil.chown(path, _RUN_AS, _RUN_AS)

    def prepare(self, ports: Ports) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.workdir, self.socket_dir)
        if (self.data_dir / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        cmd = [
            str(self._bindir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ]
        done = subprocess.run(
            self._as_owner(cmd), cwd=self.workdir, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")

    def command(self, ports: Ports) -> list[str]:
        settings = {
            "listen_addresses": procs.LOOPBACK,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "400",  # FerretDB's pools (250 and 50), and room to spare
            # A local stack: a crash of a process never loses a commit (WAL is written at
            # commit); only an OS crash could, which is what fsync would guard against.
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "256MB",
            "log_min_messages": "warning",
        }
        flags = [f"-c{key}={value}" for key, value in settings.items()]
        return self._as_owner(
            [str(self._bindir() / "postgres"), f"-D{self.data_dir}", f"-p{ports['port']}", *flags]
        )

    def ready(self, ports: Ports, log_offset: int) -> bool:
        return procs.port_answers(ports["port"]) and self._psql(ports, "SELECT 1").returncode == 0

    def after_start(self, ports: Ports) -> None:
        """Create the stack's role and databases, and apply the revision guard and the lookup
        indexes to them (idempotent)."""
        secrets = load_secrets(self.layout)
        user, password = secrets.user, secrets.mongo_password
        role = (
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
            f"CREATE ROLE {user} LOGIN; END IF; END$$;"
            f"ALTER ROLE {user} PASSWORD '{password}';"
        )
        self._check(self._psql(ports, role), "creating the role")
        scripts = self.layout.root / "devstack" / "ferretdb"
        for name in (DATABASE, DATABASE_TLS):
            exists = self._psql(ports, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
            if "1" not in exists.stdout:
                self._check(self._psql(ports, f"CREATE DATABASE {name} OWNER {user}"), "createdb")
            for script in ("rev_guard.sql", "id_index.sql"):
                done = self._psql(ports, None, name, script=scripts / script)
                self._check(done, f"applying {script}")

    def _psql(
        self, ports: Ports, sql: str | None, database: str = "postgres", script: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(self._bindir() / "psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(ports["port"]),
            "-U",
            "postgres",
            database,
        ]
        cmd += ["-f", "-"]  # statements on stdin, so no password shows in a command line
        text = script.read_text() if script is not None else sql
        return subprocess.run(
            self._as_owner(cmd), input=text, capture_output=True, text=True, check=False
        )

    @staticmethod
    def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
        if done.returncode != 0:
            raise StackError(f"postgresql: {what} failed:\n{done.stderr[-2000:]}")

    def address(self, ports: Ports) -> str:
        return f"postgres://{procs.LOOPBACK}:{ports['port']}/{DATABASE}"
