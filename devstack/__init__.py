"""The local stack for development and tests: Kafka (KRaft, Maven jars) and FerretDB (Go).

Command line: `python -m devstack build|up|down|status|env|exec -- CMD...`.
Python: `LocalStack(root).up() -> StackInfo`, `.down()`, `.stop_kafka()`, `.start_kafka()`,
`.stop_mongo()`, `.start_mongo()`. Stdlib only, so it runs before the project's venv exists.
"""

from devstack.config import PortInUseError, StackError
from devstack.stack import LocalStack, ServerStatus, StackInfo

__all__ = ["LocalStack", "PortInUseError", "ServerStatus", "StackError", "StackInfo"]
