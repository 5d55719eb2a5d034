"""Time and memory of a cross entropy forward + backward: tinytorch, PyTorch (if installed), and a textbook NumPy version.

Run from the repository root:  python benchmarks/bench_cross_entropy.py [--repeat N] [--quick]

The contract (spec/losses.md) asks that tinytorch's CrossEntropyLoss, forward + backward on float32 logits
of shape (128, 50000), take less time than torch.nn.functional.cross_entropy + .backward() in the same
run, with a peak extra memory of at most 1.25 x the logits' size (the returned gradient itself is 1 x).
This script measures; it exits 0 whether or not the target is met, and says which.
"""
import argparse
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's tinytorch, not an installed one

from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

SHAPES = [(128, 50000), (1024, 32000), (32, 10)]
TARGET_SHAPE = (128, 50000)
MEMORY_LIMIT = 1.25  # in units of the logits' size


def tinytorch_forward_backward(x, t):
    loss = CrossEntropyLoss()
    value = loss(x, t)
    return value, loss.backward()


def textbook_forward_backward(x, t):
    """The version in most tutorials: softmax, then log, then a one-hot matrix for the gradient."""
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    probs = exps / exps.sum(axis=1, keepdims=True)
    log_probs = np.log(probs)
    value = -log_probs[np.arange(n), t].mean()
    one_hot = np.zeros_like(x)
    one_hot[np.arange(n), t] = 1
    grad = (probs - one_hot) / n
    return value, grad


def torch_forward_backward(x, t):
    logits = torch.from_numpy(x).requires_grad_()
    value = torch.nn.functional.cross_entropy(logits, torch.from_numpy(t))
    value.backward()
    return value, logits.grad


def peak_extra_bytes(fn, x, t):
    """The peak memory NumPy (and Python) allocate while fn runs, beyond what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn(x, t)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - before


def time_in_blocks(fns, x, t, repeat, rounds=3):
    """(median, min) seconds per call of each fn.

    Each fn runs in blocks of consecutive calls, as a loss runs in a training loop; the first call of a block
    is not timed, so what the previous block left behind (PyTorch's OpenMP workers keep spinning for a while
    after each call, and slow down whatever runs next on these cores) is not charged to the next one. Blocks
    take turns over `rounds` rounds, in a rotating order, so a slow spell of a shared machine hits them all.
    """
    times = {name: [] for name in fns}
    names = list(fns)
    per_block = max(1, -(-repeat // rounds))
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fns[name](x, t)  # untimed: warms caches and thread pools, absorbs the neighbour's after-effects
            for _ in range(per_block):
                start = time.perf_counter()
                fns[name](x, t)
                times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(ts), min(ts)) for name, ts in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per implementation and shape (default 15)")
    parser.add_argument("--quick", action="store_true", help="3 runs each, a rough look")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else max(1, args.repeat)

    threads = torch.get_num_threads() if torch is not None else None
    print(f"cross entropy forward + backward, float32 logits, about {repeat} timed runs each, "
          "in blocks that take turns (see time_in_blocks)")
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          + (f"torch {torch.__version__} with its default {threads} threads" if torch else "torch not installed"))
    print()
    header = (f"{'shape':>14} {'logits':>9} | {'ours ms':>16} {'torch ms':>16} {'textbook ms':>16} | "
              f"{'ours/torch':>10} {'ours/textbook':>13} | {'ours mem':>8} {'textbook mem':>12}")
    print(header)
    print("-" * len(header))

    def ms(entry):  # "median (min)" in milliseconds
        return f"{entry[0] * 1e3:.2f} ({entry[1] * 1e3:.2f})" if entry else "n/a"

    rng = np.random.default_rng(0)
    verdict = {}
    for shape in SHAPES:
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], size=shape[0])
        fns = {"ours": tinytorch_forward_backward, "textbook": textbook_forward_backward}
        if torch is not None:
            fns["torch"] = torch_forward_backward
        times = time_in_blocks(fns, x, t, repeat)
        ours_mem = peak_extra_bytes(tinytorch_forward_backward, x, t) / x.nbytes
        book_mem = peak_extra_bytes(textbook_forward_backward, x, t) / x.nbytes

        ours, book = times["ours"][0], times["textbook"][0]
        torch_time = times["torch"][0] if "torch" in times else None
        vs_torch = f"{ours / torch_time:.2f}" if torch_time else "n/a"
        print(f"{str(shape):>14} {x.nbytes / 1e6:>6.1f} MB | {ms(times['ours']):>16} {ms(times.get('torch')):>16} "
              f"{ms(times['textbook']):>16} | {vs_torch:>10} {ours / book:>13.2f} | {ours_mem:>7.2f}x {book_mem:>11.2f}x")
        if shape == TARGET_SHAPE:
            verdict = {"time": torch_time and ours < torch_time, "memory": ours_mem <= MEMORY_LIMIT,
                       "ours": ours, "torch": torch_time, "mem": ours_mem}

    print()
    print("times: median (minimum) of the runs; ratios use the medians")
    print("memory: peak extra bytes seen by tracemalloc during one forward + backward, in units of the logits'"
          " size (the gradient itself is 1.00x); PyTorch's allocator is not visible to tracemalloc")
    print(f"contract target on {TARGET_SHAPE}:")
    if verdict["torch"] is None:
        print("  faster than PyTorch: n/a (torch not installed)")
    else:
        print(f"  faster than PyTorch: {'MET' if verdict['time'] else 'NOT MET'} "
              f"({verdict['ours'] * 1e3:.2f} ms vs {verdict['torch'] * 1e3:.2f} ms)")
    print(f"  peak extra memory <= {MEMORY_LIMIT}x logits: {'MET' if verdict['memory'] else 'NOT MET'} "
          f"({verdict['mem']:.2f}x)")
    if verdict["torch"] is None:
        print("overall: NOT MET" if not verdict["memory"] else "overall: n/a (the time target needs PyTorch)")
    else:
        print("overall:", "MET" if verdict["time"] and verdict["memory"] else "NOT MET")
    print("(times on a shared machine are noisy: rerun with --repeat 31 to firm them up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
