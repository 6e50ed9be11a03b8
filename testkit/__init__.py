"""Test tooling shared by `tests/`, `bench/` and `faults/`: not part of the service.

- `world`: the in-memory reference orchestration (the pure fold applied event by event), the
  oracle every expectation is computed with;
- `streams`: seeded, realistic streams of contract events;
- `expect`: comparing stored documents and published ids with the oracle's;
- `harness`: `batch-service run` as a real process, and helpers to publish and read back.

It ships in no wheel (`pyproject.toml` packages only the service); it is importable from a
checkout, where the tests, the benchmark and the fault suite run.
"""
