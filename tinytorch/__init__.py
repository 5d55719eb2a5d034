"""tinytorch: a small deep-learning framework, built one notebook at a time.

The code in `tinytorch/core/` is generated from the notebooks in `modules/` by `tito export`.
"""
import numpy as np


def _keep_freed_memory(nbytes=31 * 2**20):
    """Ask the C library's malloc to keep the memory of freed arrays, by making and dropping one large array.

    NumPy takes every array's memory from malloc. glibc (Linux) gives a block above its threshold, 128 KiB at
    first, fresh pages from the kernel, and gives memory at the top of its heap back to the kernel once more than
    twice the threshold is free there. A training step makes and drops arrays of a few hundred KiB (batch 1024:
    (1024, 128) float32 is 512 KiB), so each step came back to fresh pages, one page fault per 4 KiB written:
    442 faults in the digits MLP's step at batch 1024, which took 2.1 ms instead of 0.97 ms, measured on a
    two-core VM (benchmarks/bench_losses.py's step, in a process where PyTorch had not run: one call of it had
    hidden it). glibc raises both thresholds when a block above the threshold is freed, up to 32 MiB (see
    mallopt(3), "M_MMAP_THRESHOLD"): freeing this block of 31 MiB raises them to about 31 and 62 MiB, so up to
    62 MiB of freed memory stays with the process for its next arrays instead of going back to the kernel. The
    block itself is never written, so it costs no page; under other C libraries (or with MALLOC_MMAP_THRESHOLD_
    set, which turns the adjustment off) it is one allocation and nothing more.
    """
    np.empty(nbytes, np.uint8)  # made and freed at once


_keep_freed_memory()

from .core.autograd import is_grad_enabled, no_grad  # noqa: E402 (after the malloc thresholds are raised)
from .core.tensor import Tensor  # noqa: E402

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "save", "load"]


def __getattr__(name):
    # `tinytorch.save` and `tinytorch.load` come from module 06 (core/checkpoint.py), imported when first used:
    # `import tinytorch` then loads modules 01-02 only, whatever state the later modules are in
    if name in ("save", "load"):
        from .core import checkpoint

        return getattr(checkpoint, name)
    if name in ("nn", "optim", "data"):  # `import tinytorch as tt; tt.nn.Linear`, as with torch.nn
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinytorch' has no attribute {name!r}")
