"""The tests' shared vocabulary for errors: every error path has a test that matches its message."""
import contextlib
import re

import pytest


@contextlib.contextmanager
def raises_naming(expected, *patterns):
    """pytest.raises(expected); then every pattern must be found (re.search) in its message, which is one line."""
    with pytest.raises(expected) as info:
        yield info
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not found in the error message {message!r}"
    assert "\n" not in message.strip(), f"the error should be one line, got {message!r}"
