"""`import tinytorch` asks glibc's malloc to keep freed memory (tinytorch/__init__.py, `_keep_freed_memory`).

Without it a training step at batch 1024 came back to fresh pages from the kernel on every step: a page fault
per 4 KiB written. Each probe runs in a fresh interpreter, because the thresholds it looks at are the
process's own; the probe without tinytorch shows that the probe can see the faults at all (another C library
may keep the memory anyway: then there is nothing to test, and the test is skipped).
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="page faults counted on Linux only")

PROBE = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "tinytorch":
    import tinytorch
with open("/proc/self/status") as status:  # the peak resident memory of this process so far, in KiB
    rss = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])

def churn():  # what a training step does with its arrays: six of 512 KiB, each written, then all dropped
    for _ in range(20):
        arrays = [np.ones(2**17, np.float32) for _ in range(6)]
        del arrays

churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, "rss_kib": rss}))
"""


def probe(what):
    """The probe's page faults over 20 churns (after one untimed churn), and its peak memory after the imports."""
    package = Path(importlib.util.find_spec("tinytorch").origin).resolve().parent  # the tinytorch these tests run on
    env = dict(os.environ, PYTHONPATH=str(package.parent))
    done = subprocess.run([sys.executable, "-c", PROBE, what], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def probes():
    plain, ours = probe("numpy"), probe("tinytorch")
    if plain["faults"] < 2000:  # 20 churns of 3 MiB: about 15,000 faults where glibc gives the memory back
        pytest.skip(f"this C library keeps freed memory by itself ({plain['faults']} page faults without tinytorch)")
    return plain, ours


def test_freed_arrays_memory_is_kept_after_import(probes):
    plain, ours = probes
    assert ours["faults"] < plain["faults"] / 10, (
        f"after `import tinytorch`, 20 rounds of six 512 KiB arrays made and dropped cost {ours['faults']} page "
        f"faults ({plain['faults']} without tinytorch): malloc still gives their memory back to the kernel")


def test_the_large_block_costs_no_memory(probes):
    plain, ours = probes  # the 31 MiB block is never written: no page of it is ever made
    extra_mib = (ours["rss_kib"] - plain["rss_kib"]) / 1024
    assert extra_mib < 16, f"`import tinytorch` added {extra_mib:.0f} MiB of resident memory"
