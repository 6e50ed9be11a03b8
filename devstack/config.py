"""Where the local stack keeps its files, and what it needs from the machine.

Stdlib only: `python3 -m devstack` must work before the project's venv exists.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_START_TIMEOUT_S = 90.0
ENV_STACK_DIR = "DEVSTACK_DIR"
ENV_START_TIMEOUT = "DEVSTACK_START_TIMEOUT_S"

# What to tell someone whose machine lacks a tool; the stack is built from registries only.
_INSTALL_HINTS = {
    "java": "a Java runtime 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)",
    "mvn": "Apache Maven 3.8+ (Debian/Ubuntu: apt-get install maven)",
    "go": "Go 1.22+ (https://go.dev/doc/install)",
}


class StackError(RuntimeError):
    """The local stack could not be built, started or stopped; the message says why."""


class PortInUseError(StackError):
    """A port the stack must use is held by another process."""


def log_stderr(message: str) -> None:
    """Default progress output: stderr, so stdout stays clean for `env` and `exec`."""
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def require_tool(name: str) -> str:
    """Return the path of executable `name`, or raise StackError saying what to install."""
    path = shutil.which(name)
    if path is None:
        hint = _INSTALL_HINTS.get(name, name)
        raise StackError(f"`{name}` was not found on PATH: install {hint}")
    return path


def start_timeout_s() -> float:
    """Seconds a server may take to become usable (env DEVSTACK_START_TIMEOUT_S, default 90)."""
    raw = os.environ.get(ENV_START_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise StackError(f"{ENV_START_TIMEOUT}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise StackError(f"{ENV_START_TIMEOUT}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Layout:
    """All paths of one stack.

    `stack_dir` holds server data, logs and state; `build_dir` holds the built artifacts
    (Kafka jars, FerretDB binary). They are the same folder unless a caller wants a second,
    isolated stack that reuses already built artifacts.
    """

    root: Path
    stack_dir: Path
    build_dir: Path

    @property
    def pom(self) -> Path:
        return self.root / "devstack" / "kafka" / "pom.xml"

    @property
    def ferret_src(self) -> Path:
        return self.root / "devstack" / "ferretdb"

    @property
    def kafka_libs(self) -> Path:
        return self.build_dir / "kafka" / "libs"

    @property
    def ferret_bin(self) -> Path:
        return self.build_dir / "bin" / "ferretdb"

    @property
    def state_file(self) -> Path:
        return self.stack_dir / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.stack_dir / ".lock"

    @property
    def kafka_dir(self) -> Path:
        return self.stack_dir / "kafka"

    @property
    def mongo_dir(self) -> Path:
        return self.stack_dir / "ferretdb"


def make_layout(
    root: Path | str | None = None,
    stack_dir: Path | str | None = None,
    build_dir: Path | str | None = None,
) -> Layout:
    """Resolve a stack's paths: the arguments, else env DEVSTACK_DIR, else `<repo>/.stack`."""
    repo = Path(root).resolve() if root is not None else REPO_ROOT
    if stack_dir is None:
        env_dir = os.environ.get(ENV_STACK_DIR, "").strip()
        stack_dir = Path(env_dir) if env_dir else repo / ".stack"
    stack = Path(stack_dir).resolve()
    build = Path(build_dir).resolve() if build_dir is not None else stack
    return Layout(root=repo, stack_dir=stack, build_dir=build)
