"""Fetch the Kafka jars (Maven) and build FerretDB (Go) into the stack's build folder.

Both steps are skipped when their output is complete and was made from the current inputs:
the inputs are hashed (not compared by mtime) so a fresh checkout of the same files reuses
the artifacts and any edit to them rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from devstack.config import Layout, StackError, require_tool

Log = Callable[[str], None]

_KAFKA_STAMP = ".devstack-complete.json"
_FERRET_INPUTS = ("go.mod", "go.sum", "main.go")


def _sha256_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None, what: str) -> None:
    """Run a build command; on failure raise with the tail of its output (quiet on success)."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise StackError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def kafka_libs_ready(layout: Layout) -> bool:
    """True when the jar folder was completely filled from the current pom."""
    stamp = layout.kafka_libs / _KAFKA_STAMP
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if recorded.get("pom_sha256") != _sha256_files([layout.pom]):
        return False
    jars = recorded.get("jars") or []
    return bool(jars) and all((layout.kafka_libs / name).is_file() for name in jars)


def build_kafka(layout: Layout, log: Log) -> None:
    """Copy the runtime dependencies of devstack/kafka/pom.xml into `<build>/kafka/libs`."""
    if kafka_libs_ready(layout):
        log(f"kafka jars: up to date in {layout.kafka_libs}")
        return
    mvn = require_tool("mvn")
    require_tool("java")
    match = re.search(r"<kafka\.version>([^<]+)<", layout.pom.read_text())
    version = match.group(1) if match else "?"
    log(
        f"kafka jars: fetching Kafka {version} with Maven into {layout.kafka_libs} "
        "(about a minute on a new machine)"
    )
    started = time.monotonic()
    # Copy into a scratch folder and swap it in only when Maven succeeded, so an
    # interrupted download never looks complete.
    scratch = layout.kafka_libs.with_name("libs.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(layout.pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={scratch}",
            "-DincludeScope=runtime",
        ],
        cwd=layout.pom.parent,
        env=None,
        what="fetching the Kafka jars",
    )
    jars = sorted(p.name for p in scratch.glob("*.jar"))
    if not jars:
        raise StackError(f"Maven copied no jars into {scratch}; check {layout.pom}")
    stamp = {"pom_sha256": _sha256_files([layout.pom]), "jars": jars}
    (scratch / _KAFKA_STAMP).write_text(json.dumps(stamp, indent=1))
    shutil.rmtree(layout.kafka_libs, ignore_errors=True)
    scratch.rename(layout.kafka_libs)
    log(f"kafka jars: {len(jars)} jars ready in {time.monotonic() - started:.0f} s")


def _ferret_stamp(layout: Layout) -> Path:
    return layout.ferret_bin.with_name("ferretdb.sha256")


def ferretdb_ready(layout: Layout) -> bool:
    """True when the FerretDB binary exists and was built from the current Go sources."""
    inputs = [layout.ferret_src / name for name in _FERRET_INPUTS]
    try:
        recorded = _ferret_stamp(layout).read_text().strip()
    except OSError:
        return False
    return os.access(layout.ferret_bin, os.X_OK) and recorded == _sha256_files(inputs)


def build_ferretdb(layout: Layout, log: Log) -> None:
    """Build devstack/ferretdb (FerretDB embedded, pinned in go.mod) into `<build>/bin`."""
    if ferretdb_ready(layout):
        log(f"ferretdb: up to date at {layout.ferret_bin}")
        return
    go = require_tool("go")
    log(
        f"ferretdb: building {layout.ferret_bin} with Go "
        "(about a minute on a new machine: it downloads modules)"
    )
    started = time.monotonic()
    scratch = layout.ferret_bin.parent / ".build"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    env = dict(os.environ)
    # -mod=mod lets Go resolve from the module proxy with the pinned go.sum; the flags on the
    # command line win over whatever GOFLAGS a developer set in `go env`.
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    env["GOBIN"] = str(scratch)
    _run(
        [go, "install", "-buildvcs=false", "-trimpath", "."],
        cwd=layout.ferret_src,
        env=env,
        what="building FerretDB",
    )
    built = scratch / "ferretdb"
    if not built.is_file():
        raise StackError(f"`go install` produced no {built}")
    # Rename, not copy: a running ferretdb keeps its old inode and the swap is atomic.
    os.replace(built, layout.ferret_bin)
    shutil.rmtree(scratch, ignore_errors=True)
    inputs = [layout.ferret_src / name for name in _FERRET_INPUTS]
    _ferret_stamp(layout).write_text(_sha256_files(inputs) + "\n")
    log(f"ferretdb: built in {time.monotonic() - started:.0f} s")


def is_built(layout: Layout) -> bool:
    """True when both artifacts are present and current."""
    return kafka_libs_ready(layout) and ferretdb_ready(layout)


def build_all(layout: Layout, log: Log) -> None:
    """Build whatever is missing or stale (naming every missing tool at once)."""
    needed = []
    if not kafka_libs_ready(layout):
        needed += ["java", "mvn"]
    if not ferretdb_ready(layout):
        needed.append("go")
    problems = []
    for tool in needed:
        try:
            require_tool(tool)
        except StackError as exc:
            problems.append(str(exc))
    if problems:
        raise StackError("cannot build the local stack:\n  " + "\n  ".join(problems))
    build_kafka(layout, log)
    build_ferretdb(layout, log)
