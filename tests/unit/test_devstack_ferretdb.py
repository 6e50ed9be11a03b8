"""The local stack's FerretDB runs with Go's collector at GOGC=400 unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.config import Layout
from devstack.ferret_server import FerretServer


def _server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FerretServer:
    server = FerretServer(Layout(tmp_path, tmp_path, tmp_path), lambda: 5432)
    monkeypatch.setattr(server, "_pg_url", lambda: "postgres://127.0.0.1:5432/db")
    return server


def test_ferretdb_collects_less_often_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    env = _server(tmp_path, monkeypatch).environment()
    assert env == {"FERRETDB_POSTGRESQL_URL": "postgres://127.0.0.1:5432/db", "GOGC": "400"}


def test_a_gogc_of_the_operator_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOGC", "100")
    assert _server(tmp_path, monkeypatch).environment()["GOGC"] == "100"
