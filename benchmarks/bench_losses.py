"""Every loss, forward + backward, against PyTorch's CPU build: the performance contract of spec/losses.md.

Run from anywhere in the course:  tito bench losses [--quick] [--only TEXT] [--stretch]
(or: python benchmarks/bench_losses.py ...). It measures, then says MET or NOT MET for each case; it exits 0
whether or not the targets are met, and non-zero only when it cannot run.

The contract: forward + backward at least as fast as PyTorch 2.13 (the faster of its default threads and one
thread, measured in the same run) at every size; cross entropy over a large vocabulary in at most 0.6 x
PyTorch's time, with a peak extra memory of at most 1.05 x the logits' size with every option. The digits
training step (Linear 64->128, ReLU, Linear 128->10, cross entropy, the update p -= lr * p.grad) counts too.
`--stretch` grades Task 04.9, your `_softmax_rows_stretch`, against the given kernel and PyTorch
(stretch_losses.py); `--floors` times the fewest NumPy calls each case needs, against PyTorch's whole
forward + backward: where those alone are slower, NumPy cannot meet the target (floors_losses.py).
"""
import argparse
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this course's tinytorch, not an installed one

from tinytorch.nn import (BinaryCrossEntropyLoss, BinaryCrossEntropyWithLogitsLoss, CrossEntropyLoss,  # noqa: E402
                          Linear, MSELoss, ReLU, Sequential)

try:
    import torch
except ImportError:
    torch = None

TORCH_VERSION = "2.13.0"
SMALL, LARGE_VOCABULARY, MEMORY = 1.0, 0.6, 1.05  # the targets: time / torch's, and peak extra memory / logits


@dataclass
class Case:
    """One row of the table: `build()` makes the inputs once and returns (ours, theirs, nbytes)."""
    label: str
    build: Callable
    time_target: float = SMALL
    memory_target: float | None = None  # in units of `nbytes` (the logits' or the input's size)
    shape: tuple = ()  # of the logits, the input, or (batch, 64) for a training step: for the floors


# ---------------------------------------------------------------------------------------------------- the cases
def _rng():
    return np.random.default_rng(0)


def cross_entropy_case(shape, weight=False, label_smoothing=0.0):
    def build():
        rng = _rng()
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
        w = rng.uniform(0.5, 2.0, shape[1]).astype(np.float32) if weight else None
        criterion = CrossEntropyLoss(weight=w, label_smoothing=label_smoothing)

        def ours():
            criterion(x, t)
            return criterion.backward()

        theirs = None
        if torch is not None:
            tt, wt = torch.from_numpy(t), (torch.from_numpy(w) if weight else None)

            def theirs():
                logits = torch.from_numpy(x).requires_grad_()
                torch.nn.functional.cross_entropy(logits, tt, weight=wt, label_smoothing=label_smoothing).backward()
                return logits.grad
        return ours, theirs, x.nbytes
    return build


def elementwise_case(name, shape):
    def build():
        rng = _rng()
        if name == "BCE":
            x = rng.uniform(0.01, 0.99, shape).astype(np.float32)
        else:
            x = rng.standard_normal(shape, dtype=np.float32)
        y = (rng.uniform(size=shape) < 0.5).astype(np.float32) if name != "MSE" else rng.standard_normal(
            shape, dtype=np.float32)
        losses = {"MSE": MSELoss, "BCE": BinaryCrossEntropyLoss, "BCE with logits": BinaryCrossEntropyWithLogitsLoss}
        criterion = losses[name]()

        def ours():
            criterion(x, y)
            return criterion.backward()

        theirs = None
        if torch is not None:
            f = {"MSE": torch.nn.functional.mse_loss, "BCE": torch.nn.functional.binary_cross_entropy,
                 "BCE with logits": torch.nn.functional.binary_cross_entropy_with_logits}[name]
            yt = torch.from_numpy(y)

            def theirs():
                xt = torch.from_numpy(x).requires_grad_()
                f(xt, yt).backward()
                return xt.grad
        return ours, theirs, x.nbytes
    return build


def mlp_step_case(batch, lr=0.1):
    """The digits classifier's training step (8 x 8 images, 10 classes), on random data of the digits' shape."""
    def build():
        rng = _rng()
        x = rng.standard_normal((batch, 64), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        model = Sequential(Linear(64, 128, generator=1), ReLU(), Linear(128, 10, generator=2))
        criterion, parameters = CrossEntropyLoss(), model.parameters()

        def ours():
            model.zero_grad()
            criterion(model(x), y)
            model.backward(criterion.backward())
            for p in parameters:
                p -= lr * p.grad

        theirs = None
        if torch is not None:
            torch.manual_seed(0)
            net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
            xt, yt, params = torch.from_numpy(x), torch.from_numpy(y), list(net.parameters())

            def theirs():
                net.zero_grad()
                torch.nn.functional.cross_entropy(net(xt), yt).backward()
                with torch.no_grad():
                    for p in params:
                        p -= lr * p.grad
        return ours, theirs, None
    return build


def cases():
    def cross_entropy(label, shape, *targets, weight=False, label_smoothing=0.0):
        return Case(label, cross_entropy_case(shape, weight, label_smoothing), *targets, shape=shape)

    large = (LARGE_VOCABULARY, MEMORY)
    ce = [
        cross_entropy("CE 8 x 10", (8, 10)),
        cross_entropy("CE 32 x 10", (32, 10)),
        cross_entropy("CE 64 x 100", (64, 100)),
        cross_entropy("CE 128 x 1000", (128, 1000)),
        cross_entropy("CE 256 x 10000", (256, 10000), *large),
        cross_entropy("CE 128 x 50000", (128, 50000), *large),
        cross_entropy("CE 1024 x 32000", (1024, 32000), *large),
        cross_entropy("CE (16, 21, 64, 64) K-dim", (16, 21, 64, 64)),
        cross_entropy("CE 128 x 1000, label smoothing 0.1", (128, 1000), label_smoothing=0.1),
        cross_entropy("CE 128 x 1000, class weights", (128, 1000), weight=True),
        cross_entropy("CE 128 x 1000, weights + smoothing", (128, 1000), weight=True, label_smoothing=0.1),
        cross_entropy("CE 128 x 50000, label smoothing 0.1", (128, 50000), *large, label_smoothing=0.1),
        cross_entropy("CE 128 x 50000, class weights", (128, 50000), *large, weight=True),
        cross_entropy("CE 128 x 50000, weights + smoothing", (128, 50000), *large, weight=True, label_smoothing=0.1),
    ]
    elementwise = [Case(f"{name} {label}", elementwise_case(name, shape), shape=shape)
                   for name in ("MSE", "BCE", "BCE with logits") for label, shape in (("10^6", (10**6,)),
                                                                                     ("4096 x 1000", (4096, 1000)))]
    mlp = [Case(f"digits MLP step, batch {b}", mlp_step_case(b), shape=(b, 64)) for b in (64, 1024)]
    return ce + elementwise + mlp


# ---------------------------------------------------------------------------------------------- measuring
def peak_extra_bytes(fn):
    """The peak memory NumPy (and Python) allocate while fn runs, beyond what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - before


def time_in_blocks(contenders, rounds, budget):
    """Per round, each contender's median seconds per call: {name: [median of round 1, ...]}.

    `contenders` maps a name to (setup, fn). Each fn runs in blocks of consecutive calls, as a loss runs in a
    training loop; the first call of a block is not timed, so what the previous block left behind (PyTorch's
    OpenMP workers keep spinning for a while after each call, and slow down whatever runs next on these cores)
    is not charged to the next one. Blocks take turns, in a rotating order, so a slow spell of a shared
    machine hits them all; a block lasts about `budget` seconds (3 to 2000 calls).
    """
    names = list(contenders)
    medians = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            setup, fn = contenders[name]
            setup()
            start = time.perf_counter()
            fn()  # untimed: warms caches and thread pools, absorbs the neighbour's after-effects
            calls = int(min(2000, max(3, budget / max(time.perf_counter() - start, 1e-7))))
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            medians[name].append(statistics.median(times))
    return medians


@dataclass
class Row:
    label: str
    ours: float | None
    torch_default: float | None
    torch_one: float | None
    ratio: float | None
    memory: float | None
    time_target: float
    memory_target: float | None
    problem: str | None = None  # why ours could not be measured (a task not done yet, an error)

    @property
    def met(self):
        if self.problem:
            return False
        memory_ok = self.memory_target is None or (self.memory is not None and self.memory <= self.memory_target)
        return memory_ok and (self.ratio is None or self.ratio <= self.time_target)


def _problem(case, ours):
    """None if ours runs; otherwise one line saying why not (in a student's copy: the task still to do)."""
    try:
        ours()
    except NotImplementedError as e:
        return f"not measured: {e}"
    except Exception as e:  # the student's code, or ours, raised: a row that says so, not a crash
        return f"not measured: {type(e).__name__}: {e}"
    return None


def measure(case, rounds, budget, threads):
    ours, theirs, nbytes = case.build()
    problem = _problem(case, ours)
    if problem:
        return Row(case.label, None, None, None, None, None, case.time_target, case.memory_target, problem)
    contenders = {"ours": (lambda: torch is not None and torch.set_num_threads(threads), ours)}
    if theirs is not None:
        contenders["torch"] = (lambda: torch.set_num_threads(threads), theirs)
        contenders["torch, 1 thread"] = (lambda: torch.set_num_threads(1), theirs)
    medians = time_in_blocks(contenders, rounds, budget)
    if torch is not None:
        torch.set_num_threads(threads)
    median = {name: statistics.median(m) for name, m in medians.items()}
    ratio = None
    if theirs is not None:  # per round, against the faster torch of that round: a slow spell cancels out
        ratio = statistics.median(o / min(a, b) for o, a, b in
                                  zip(medians["ours"], medians["torch"], medians["torch, 1 thread"]))
    # in units of the logits: only where they are big enough for the unit to mean something (1 MiB)
    memory = peak_extra_bytes(ours) / nbytes if nbytes and (nbytes >= 2**20 or case.memory_target) else None
    return Row(case.label, median["ours"], median.get("torch"), median.get("torch, 1 thread"), ratio, memory,
               case.time_target, case.memory_target)


# ---------------------------------------------------------------------------------------------- the report
def _duration(seconds):
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


class Table:
    def __init__(self, threads):
        self.columns = [("case", 36, "<"), ("ours", 10, ">"), (f"torch {threads} thr" if torch is not None else "torch", 12, ">"),
                        ("torch 1 thr", 12, ">"), ("ours/torch", 10, ">"), ("memory", 7, ">"),
                        ("target", 22, "<"), ("verdict", 7, "<")]

    def line(self, cells):
        return "  ".join(f"{c:{align}{width}}" for c, (_, width, align) in zip(cells, self.columns)).rstrip()

    def header(self):
        text = self.line([name for name, _, _ in self.columns])
        return text + "\n" + "-" * len(text)

    def row(self, r):
        if r.problem:
            return f"{r.label:<{self.columns[0][1]}}  {r.problem}"
        target = f"<= {r.time_target:.2f}x" + (f", mem <= {r.memory_target:.2f}x" if r.memory_target else "")
        verdict = "MET" if r.met else "NOT MET"
        if r.ratio is None:  # no torch: only the memory part can be judged
            verdict = ("memory NOT MET" if not r.met else "memory MET") if r.memory_target else "n/a"
        return self.line([r.label, _duration(r.ours), _duration(r.torch_default), _duration(r.torch_one),
                          "n/a" if r.ratio is None else f"{r.ratio:.2f}",
                          "-" if r.memory is None else f"{r.memory:.2f}x",
                          target, verdict])


def progress(text):
    """A progress line on stderr: it stays out of the table when stdout is piped into a file."""
    print(f"...   {text}", file=sys.stderr, flush=True)


def preamble(threads, rounds):
    print(f"forward + backward, float32, {rounds} rounds of blocks per contender (see time_in_blocks)")
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          + (f"torch {torch.__version__} (default {threads} threads)" if torch else "torch not installed"))
    if torch is None:
        print(f"the comparison with PyTorch needs it: pip install torch=={TORCH_VERSION}")
    elif not torch.__version__.startswith(TORCH_VERSION):
        print(f"note: the contract is stated against torch {TORCH_VERSION}")
    print()


def legend():
    print()
    print("ours, torch: median seconds per call (median over the rounds of each block's median)")
    print("ours/torch: median over the rounds of ours / the faster of torch's two thread settings in that round")
    print("memory: peak extra bytes seen by tracemalloc during one call, in units of the logits' (or the input's)"
          " size; the gradient itself is 1.00x; PyTorch's allocator is not visible to tracemalloc")


def run_table(args):
    threads = torch.get_num_threads() if torch is not None else 1
    selected = [c for c in cases() if not args.only or any(o.lower() in c.label.lower() for o in args.only)]
    if not selected:
        print(f"no case matches {args.only}; the cases are:\n  " + "\n  ".join(c.label for c in cases()))
        return 2
    preamble(threads, args.rounds)
    table = Table(threads)
    print(table.header(), flush=True)
    rows = []
    for case in selected:
        progress(f"measuring {case.label}")
        rows.append(measure(case, args.rounds, args.budget, threads))
        print(table.row(rows[-1]), flush=True)
    legend()
    steps = [r for r in rows if r.label.startswith("digits MLP step") and r.ours]
    if steps:
        print()
        print("training steps per second, digits MLP (Linear 64->128, ReLU, Linear 128->10, cross entropy, SGD):")
    for r in steps:
        theirs = ", ".join(f"torch {name} {1 / t:,.0f}" for name, t in
                           ((f"{threads} thr", r.torch_default), ("1 thr", r.torch_one)) if t)
        print(f"  {r.label.rsplit(', ', 1)[1]}: ours {1 / r.ours:,.0f}" + (f", {theirs}" if theirs else ""))
    if torch is None:  # what can be judged is memory alone: a count of cases MET would claim the times too
        judged = [r for r in rows if r.memory_target and not r.problem]
        failed = [r.label for r in judged if not r.met] + [f"{r.label} (not measured)" for r in rows if r.problem]
        if judged:
            summary = (f"memory within its target in {sum(r.met for r in judged)} of the {len(judged)} cases that "
                       "have one (time not judged)")
        else:  # only a memory target can be judged, and these cases have none
            summary = "none of these cases can be judged without PyTorch (they have only a time target)"
        print(f"overall: {summary}" + (f"; NOT MET: {', '.join(failed)}" if failed else ""))
    else:
        judged = [r for r in rows if r.ratio is not None or r.memory_target or r.problem]
        failed = [r.label for r in judged if not r.met]
        print(f"overall: {len(judged) - len(failed)} of {len(judged)} cases MET" + (
            f"; NOT MET: {', '.join(failed)}" if failed else ""))
    if torch is None:
        print(f"(the time targets need PyTorch: pip install torch=={TORCH_VERSION})")
    return 0


# ----------------------------------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench_losses", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of short blocks: a rough look")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of blocks per contender (default 5)")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="only the cases whose label contains TEXT (repeatable), e.g. --only 'CE 8 x'")
    parser.add_argument("--stretch", action="store_true", help="grade Task 04.9, your _softmax_rows_stretch")
    parser.add_argument("--floors", action="store_true",
                        help="time the fewest NumPy calls each case needs, against PyTorch's whole step")
    args = parser.parse_args(argv)
    args.rounds = 2 if args.quick else max(1, args.rounds)
    args.budget = 0.03 if args.quick else 0.1  # seconds per block
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the two companions of this script
    bench = SimpleNamespace(**globals())  # this script's cases, timing and table, for them
    if args.stretch:
        from stretch_losses import run_stretch
        return run_stretch(args, bench)
    if args.floors:
        if not (Path(__file__).resolve().parent / "floors_losses.py").is_file():
            print("the floors are in the instructor's copy only (their NumPy code is the tasks' solutions)")
            return 1
        from floors_losses import run_floors
        return run_floors(args, bench)
    return run_table(args)


if __name__ == "__main__":
    sys.exit(main())
