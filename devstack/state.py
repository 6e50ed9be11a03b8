"""The stack's `state.json`: which server runs with which pid, on which ports, logging where."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from devstack.servers import Server

__all__ = ["load_state", "save_state"]


def load_state(path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """The recorded state ({} when there is none, or it cannot be read: said in the log)."""
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log(f"ignoring unreadable {path}: {exc}")
        return {}
    return state if isinstance(state, dict) else {}


def save_state(
    path: Path,
    state: dict[str, Any],
    servers: Mapping[str, Server],
    order: Sequence[str],
    clients: Mapping[str, str],
) -> None:
    """Record `state` (each server's address and log filled in, servers in `order`), and the
    addresses that clients read (`clients`: e.g. `kafka_bootstrap` -> the Kafka server's key)."""
    for key in order:
        entry = state.get(key)
        if entry and entry.get("ports"):
            server = servers[key]
            entry["address"] = server.address(entry["ports"])
            entry["log"] = str(server.log_path)
    out = {
        **{name: (state.get(key) or {}).get("address") for name, key in clients.items()},
        **{key: state[key] for key in order if key in state},
    }
    state.update(out)
    # Write and rename, so a reader never sees half a file.
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(scratch, path)
