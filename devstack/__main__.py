"""`python -m devstack <command>`: build, up, down, status, env, exec -- CMD..."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from devstack.config import StackError
from devstack.stack import LocalStack, StackInfo

KAFKA_ENV = "BATCH_SERVICE_KAFKA_BOOTSTRAP"
MONGO_ENV = "BATCH_SERVICE_MONGODB_URI"


def _exports(info: StackInfo) -> str:
    return (
        f"export {KAFKA_ENV}={shlex.quote(info.kafka_bootstrap)} "
        f"{MONGO_ENV}={shlex.quote(info.mongodb_uri)}"
    )


def _status(stack: LocalStack) -> int:
    servers = stack.status()
    print(f"stack folder: {stack.layout.stack_dir}")
    for server in servers:
        where = server.address or "-"
        state = f"running (pid {server.pid})" if server.running else "stopped"
        print(f"{server.name:9} {state:24} {where:30} log: {server.log}")
    return 0


def _exec(stack: LocalStack, argv: list[str]) -> int:
    """Run a command with the servers' addresses in its environment (never returns on success)."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise StackError("usage: python -m devstack exec -- COMMAND [ARGS...]")
    kafka, mongo = os.environ.get(KAFKA_ENV), os.environ.get(MONGO_ENV)
    if not kafka and not mongo:
        # Nothing configured: the local stack is the default. Explicit settings always win.
        info = stack.up()
        os.environ[KAFKA_ENV], os.environ[MONGO_ENV] = info.kafka_bootstrap, info.mongodb_uri
    elif not (kafka and mongo):
        print(
            f"devstack: only one of {KAFKA_ENV} / {MONGO_ENV} is set; not starting the local stack",
            file=sys.stderr,
        )
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise StackError(f"cannot run {argv[0]!r}: {exc}") from None
    return 127  # not reached: execvp replaced this process


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m devstack`; returns the exit status."""
    args_in = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="fetch the Kafka jars and build FerretDB (skipped if current)")
    sub.add_parser("up", help="start Kafka and FerretDB on free loopback ports (reuses running)")
    down = sub.add_parser("down", help="stop both servers and verify nothing is left")
    down.add_argument("--purge", action="store_true", help="also delete their data and logs")
    sub.add_parser("status", help="print what runs and where")
    sub.add_parser("env", help="print the export line for the running stack")
    sub.add_parser("exec", help="exec -- CMD...: run CMD with the stack's addresses set")
    # exec passes everything after it through untouched, so parse only the command name.
    if args_in[:1] == ["exec"]:
        command, rest, purge = "exec", args_in[1:], False
    else:
        args = parser.parse_args(args_in)
        command, rest, purge = args.command, [], bool(getattr(args, "purge", False))
    stack = LocalStack()
    try:
        if command == "build":
            stack.build()
        elif command == "up":
            info = stack.up()
            print(f"kafka bootstrap: {info.kafka_bootstrap}\nmongodb uri:     {info.mongodb_uri}")
            print(_exports(info))
        elif command == "down":
            stack.down(purge=purge)
            print("stack stopped" + (" and its data deleted" if purge else ""))
        elif command == "status":
            return _status(stack)
        elif command == "env":
            running = stack.info()
            if running is None:
                print("devstack: the stack is not running (python -m devstack up)", file=sys.stderr)
                return 1
            print(_exports(running))
        elif command == "exec":
            return _exec(stack, rest)
    except StackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
