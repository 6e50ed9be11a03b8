"""The fault suite (issue 6): the real service processes against the real local stack, with
faults injected (SIGKILL, SIGSTOP, Kafka or FerretDB stopped and restarted, instances killed
and added, hostile input), and the end state checked exactly against the pure fold.

`python -m faults` runs every scenario and prints a table; `tests/e2e/test_faults_fast.py`
runs a fast subset of the same code in `make test`.
"""

from faults.runner import Ctx, RunResult, Scenario, new_env
from faults.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "Ctx", "RunResult", "Scenario", "new_env"]
