"""Session-wide guards: the tests grade *this* course's package, and CI runs every layer."""
import importlib.util
import os
from pathlib import Path

import pytest

COURSE_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    # Locate the package without importing it: an unfinished module must fail its own tests, not this hook.
    spec = importlib.util.find_spec("tinytorch")
    where = Path(spec.origin).resolve() if spec and spec.origin else None
    if where is None or COURSE_ROOT not in where.parents:
        raise pytest.UsageError(
            f"the tests would grade tinytorch from {where.parent if where else 'nowhere (not importable)'}, not this course's package in "
            f"{COURSE_ROOT / 'tinytorch'}; run pytest (or tito test) from {COURSE_ROOT}"
        )
    # CI sets TINYTORCH_REQUIRE=torch,browser so that the optional layers cannot skip unnoticed there.
    required = {n.strip() for n in os.environ.get("TINYTORCH_REQUIRE", "").split(",") if n.strip()}
    if "torch" in required and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("TINYTORCH_REQUIRE names torch, but torch is not installed (pip install torch==2.13.0)")
