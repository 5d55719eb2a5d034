"""The README's training example, run exactly as written: it must print a test accuracy of at least 0.97."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _marked_block(name: str) -> str:
    """The fenced code block between `<!-- name -->` and `<!-- end-name -->` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name} -->\n```\w*\n(.*?)\n```\n<!-- end-{name} -->", text, flags=re.S)
    assert match, f"README.md lost its marked {name} block"
    return match.group(1)


def test_the_readme_training_example_reaches_97_percent_on_the_digits(tmp_path):
    pytest.importorskip("sklearn", reason="the example needs the dev extra's scikit-learn: pip install -e '.[dev]'")
    code = _marked_block("training-example")
    # run where a reader would, outside the course's folder, with this checkout's package on the path
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    (accuracy,) = re.findall(r"^test accuracy: (\d\.\d{3})$", result.stdout, flags=re.M)
    assert float(accuracy) >= 0.97, result.stdout
