"""Stretch task 04.9, graded: the student's `_softmax_rows_stretch` checked against the given kernel and a plain
NumPy reference, then timed inside cross entropy against the given kernel and PyTorch (`tito bench losses --stretch`).

A companion of bench_losses.py, which passes itself in as `bench` (its cases, timing and table).
"""
import numpy as np

import tinytorch.core.losses as losses
from tinytorch.core.kernels import softmax_rows

def reference_softmax_rows(x, coef=None):
    """The kernel's contract, written plainly on the whole array (in float64): m, s, and e scaled by coef / s."""
    m = x.max(axis=1)
    e = np.exp(x.astype(np.float64) - m[:, None])
    s = e.sum(axis=1)
    return m, s, (e * (coef / s)[:, None] if coef is not None else None)


def _stretch_inputs():
    rng = np.random.default_rng(1)
    yield "float32 (5, 7)", rng.standard_normal((5, 7), dtype=np.float32)
    yield "float64 (300, 10)", rng.standard_normal((300, 10))
    yield "float32 (40, 30000), several blocks", rng.standard_normal((40, 30000), dtype=np.float32)
    yield "float32 (3, 200000), long rows", rng.standard_normal((3, 200000), dtype=np.float32)
    yield "one element (1, 1)", np.array([[0.5]], np.float32)
    yield "logits of +-1e4", np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]], np.float32)
    yield "float16 (4, 70000)", rng.standard_normal((4, 70000)).astype(np.float16)


def check_stretch(kernel):
    """Problems with the numbers of `kernel` against the given kernel and the plain reference (empty: none)."""
    problems = []
    for name, x in _stretch_inputs():
        tol = {np.float64: 1e-10, np.float32: 1e-5, np.float16: 1e-3}[x.dtype.type]
        coef = np.linspace(0.5, 2.0, x.shape[0]).astype(x.dtype)
        original = x.copy()
        for c in (None, coef):
            got, given, plain = kernel(x, c), softmax_rows(x, c), reference_softmax_rows(x, c)
            what = f"{name}, coef={'None' if c is None else 'given'}"
            if not np.array_equal(x, original):
                problems.append(f"{what}: the logits were changed in place")
                break
            if not (isinstance(got, tuple) and len(got) == 3):
                problems.append(f"{what}: expected a tuple (m, s, e), got {type(got).__name__}")
                break
            m, s, e = got
            if c is None and e is not None:
                problems.append(f"{what}: e must be None without coef (nothing big is kept without a backward)")
            for label, mine, want, dtype in (("m", m, given[0], x.dtype), ("s", s, given[1], given[1].dtype),
                                             ("e", e, given[2], x.dtype)):
                if want is None or mine is None:
                    continue
                mine = np.asarray(mine)
                if mine.shape != want.shape or mine.dtype != dtype:
                    problems.append(f"{what}: {label} has shape {mine.shape} and dtype {mine.dtype}, expected "
                                    f"{want.shape} and {dtype}")
                    continue
                ref = {"m": plain[0], "s": plain[1], "e": plain[2]}[label]
                for against, exact in ((want, "the given kernel"), (ref, "the plain NumPy reference")):
                    if not np.allclose(mine, against, rtol=tol, atol=tol * 1e-3, equal_nan=True):
                        worst = np.nanmax(np.abs(mine.astype(np.float64) - against) / (np.abs(against) + tol))
                        problems.append(f"{what}: {label} differs from {exact} (largest relative error {worst:.1e}, "
                                        f"tolerance {tol:.0e})")
    return problems


def with_kernel(kernel, fn):
    """fn, run with cross entropy's row kernel replaced by `kernel`."""
    def run():
        saved = losses.CrossEntropyFunction.kernel
        losses.CrossEntropyFunction.kernel = staticmethod(kernel)
        try:
            return fn()
        finally:
            losses.CrossEntropyFunction.kernel = saved
    return run


def run_stretch(args, bench):
    torch = bench.torch
    threads = torch.get_num_threads() if torch is not None else 1
    print("Stretch task 04.9: _softmax_rows_stretch, your row kernel")
    try:
        losses._softmax_rows_stretch(np.zeros((2, 3), np.float32), np.ones(2, np.float32))
    except NotImplementedError as e:
        print(f"not started: _softmax_rows_stretch still raises NotImplementedError ({e}).")
        print("write it in modules/04_losses/losses.ipynb (the cell under 'Stretch task 04.9'), run "
              "`tito export 04_losses`, then `tito bench losses --stretch` again")
        return 0
    except Exception as e:  # a bug in the student's kernel is a report, not a crash
        print(f"NOT MET: _softmax_rows_stretch raised {type(e).__name__}: {e}")
        return 0
    bench.progress("checking its numbers against softmax_rows and a plain NumPy reference")
    try:
        problems = check_stretch(losses._softmax_rows_stretch)
    except Exception as e:
        problems = [f"it raised {type(e).__name__}: {e}"]
    if problems:
        print("numbers: NOT MET")
        for p in problems[:12]:
            print(f"  {p}")
        if len(problems) > 12:
            print(f"  ... and {len(problems) - 12} more")
        return 0
    print("numbers: MET (the same m, s and e as softmax_rows and the plain reference, float16 to float64, "
          "+-1e4 logits, several blocks)")
    print()
    shape = (128, 50000)
    bench.preamble(threads, args.rounds)
    table = bench.Table(threads)
    print(table.header(), flush=True)
    def given_with_maxima(x, coef=None):  # the given kernel under your kernel's contract (m: the row maxima)
        return softmax_rows(x, coef)

    for label, kernel in (("CE 128 x 50000, given kernel", softmax_rows),
                          ("CE 128 x 50000, given, with maxima", given_with_maxima),
                          ("CE 128 x 50000, your kernel", losses._softmax_rows_stretch)):
        case = bench.Case(label, _kernel_case(bench, shape, kernel), bench.LARGE_VOCABULARY, bench.MEMORY)
        bench.progress(f"measuring {label}")
        row = bench.measure(case, args.rounds, args.budget, threads)
        print(table.row(row), flush=True)
    met = row.met
    print("given kernel: as cross entropy runs it, without the row maxima where the sums allow (any_shift); given, "
          "with maxima: the same kernel under your kernel's contract, to compare like with like")
    bench.legend()
    if torch is None:
        print(f"your kernel: memory {'MET' if met else 'NOT MET'}; the time target needs PyTorch: "
              f"pip install torch=={bench.TORCH_VERSION}")
    else:
        print(f"your kernel: {'MET' if met else 'NOT MET'} (cross entropy of {shape[0]} x {shape[1]} in at most "
              f"{bench.LARGE_VOCABULARY}x PyTorch's time, peak extra memory at most {bench.MEMORY}x the logits)")
    return 0


def _kernel_case(bench, shape, kernel):
    inner = bench.cross_entropy_case(shape)

    def build():
        ours, theirs, nbytes = inner()
        return with_kernel(kernel, ours), theirs, nbytes
    return build
