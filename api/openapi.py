"""The OpenAPI 3.1 document of the API, exported to `schemas/openapi.json`.

`python -m api.openapi` (or `make schemas`) writes it; a unit test fails when the committed
file drifts from the routes. The running service serves the same at `/openapi.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from api.app import create_app
from api.deps import ApiDeps

__all__ = ["OPENAPI_PATH", "document", "render", "write"]

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "schemas" / "openapi.json"


def document() -> dict[str, Any]:
    """The document as served (routes only: no server is needed to describe them)."""
    app = create_app(cast(ApiDeps, None))
    return app.openapi()


def render() -> str:
    """The exact text of schemas/openapi.json: sorted keys, stable."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path = OPENAPI_PATH) -> Path:
    """Write the rendered document; returns its path."""
    path.write_text(render(), encoding="utf-8", newline="\n")
    return path


if __name__ == "__main__":
    print(write())
