"""Floors for every case of the table, timed against ours and PyTorch's whole forward + backward in the same
rotating blocks (`tito bench losses --floors`).

Two floors per case:
- the plain floor: the fewest NumPy calls of the whole computation, written plainly (whole arrays, one core, no
  checks, no protocol). Where it is faster than PyTorch and ours is not, the difference is Python around the calls:
  the module protocol, the input checks the contract asks for, and the structure of the student tasks.
- the irreducible passes: only what NumPy cannot do without (for cross entropy one exp per logit, one sum per row
  and one write of the gradient; for MSE x - y, one read of it for the sum and one scaling write; for the binary
  cross entropy of probabilities 1 - p, the two logs and one division; for that of logits exp(-|x|), the log of
  1 + that, by the fastest of np.log1p, np.log and one log per product of 256, and one division for the sigmoid;
  for the training step its five matrix products: the first layer's input gradient is made only when read, and a
  step never reads it), timed on one core, shared between two threads in halves, and in blocks of two sizes shared
  between two threads: the fastest of these ways. Where even that is slower than PyTorch's whole step, NumPy
  cannot meet the target, whatever the Python around it: that is the measured proof.
Class weights and label smoothing only add passes to a cross entropy, so its plain floor and irreducible passes
are those of the plain loss of the same shape: lower bounds for those cases too.
A companion of bench_losses.py, which passes itself in as `bench`.
"""
import statistics
import time

import numpy as np

from tinytorch.core.kernels import _even_bounds, _log1p, _map_blocks, _RowBuffer, _scratch, _workers


# ---------------------------------------------------------------------------------------------- plain floors
def numpy_cross_entropy(x, t):
    """Cross entropy of rows x (R, C) against class indices t, mean, forward and backward: the fewest NumPy calls."""
    rows, scale = np.arange(len(t)), 1.0 / len(t)
    m = np.maximum.reduce(x, axis=1)
    e = np.exp(x - m[:, None])
    s = np.add.reduce(e, axis=1)
    loss = np.add.reduce(np.log(s) - (x[rows, t] - m)) * scale
    e *= (scale / s)[:, None]
    e[rows, t] -= scale
    return loss, e


def numpy_cross_entropy_kdim(x, t):
    """The same for logits (N, C, d1, d2) and targets (N, d1, d2), along axis 1, without a transposed copy."""
    x3, t3, scale = x.reshape(x.shape[0], x.shape[1], -1), t.reshape(t.shape[0], 1, -1), 1.0 / t.size
    m = np.maximum.reduce(x3, axis=1, keepdims=True)
    e = np.exp(x3 - m)
    s = np.add.reduce(e, axis=1, keepdims=True)
    loss = np.add.reduce(np.log(s) - (np.take_along_axis(x3, t3, axis=1) - m), axis=None) * scale
    e *= scale / s
    np.put_along_axis(e, t3, np.take_along_axis(e, t3, axis=1) - scale, axis=1)
    return loss, e.reshape(x.shape)


def numpy_mse(x, y):
    """Mean squared error, forward and backward, on the whole arrays: the differences, one dot product of them (in
    float32: less accurate than the loss's, which adds 65,536 squares at a time in float64) and the scaled gradient."""
    d = (x - y).reshape(-1)
    loss = float(np.dot(d, d)) / d.size
    d *= 2 / d.size
    return loss, d


def numpy_bce(p, y):
    """Binary cross entropy of probabilities, mean, forward and backward, on the whole arrays, with plain
    np.log(1 - p): less accurate than the loss's way for small p, and a pass shorter."""
    log_p, log_1mp = np.maximum(np.log(p), -100), np.maximum(np.log(1 - p), -100)
    loss = -np.add.reduce(log_1mp + y * (log_p - log_1mp), axis=None) / p.size
    return loss, (p - y) / np.maximum(p * (1 - p), np.float32(1e-12)) / p.size


def numpy_bce_with_logits(x, y):
    """Binary cross entropy of logits, mean, forward and backward, on the whole arrays (NumPy runs on one core); the
    log of 1 + z by the loss's _log1p (np.log1p where it is quick, np.log with its correction where np.log1p is a
    loop), and the sigmoid as max(z, [x >= 0]) / (1 + z), as the loss does (quicker than a second exp)."""
    z = np.exp(-np.abs(x))
    u = 1 + z
    step = (x >= 0).astype(x.dtype)
    loss = np.add.reduce((step - y) * x + _log1p(z, u), axis=None) / x.size
    return loss, (np.maximum(z, step) / u - y) / x.size


def numpy_mlp_step(x, y, params, lr):
    """The digits step with the fewest NumPy calls: no input gradient for the first layer, updates in place."""
    W1, b1, W2, b2 = params
    h = x @ W1.T
    h += b1
    positive = h > 0
    a = h * positive
    z = a @ W2.T
    z += b2
    _, g = numpy_cross_entropy(z, y)
    ga = g @ W2
    ga *= positive
    for p, grad in ((W2, g.T @ a), (b2, g.sum(axis=0)), (W1, ga.T @ x), (b1, ga.sum(axis=0))):
        p -= lr * grad


# ---------------------------------------------------------------------------------------------- irreducible passes
def _ways(n, work, unit=1):
    """work(slice) over range(n) four ways, each a real way to do the passes: the whole range on one core; two
    halves shared between two threads; blocks of about 2**17 numbers (`unit` numbers per index: a block's passes in
    the CPU's cache) and of about 2**19 (few, long NumPy calls, as the elementwise engine makes where a core has
    2 MiB of level-2 cache; with 1 MiB it makes 2**18, between the two), shared between two threads. The fastest
    way is the floor: long calls win on small inputs, blocks on large ones."""
    whole, halves = slice(0, n), [slice(0, n // 2), slice(n // 2, n)]
    ways = [(lambda: work(whole)), (lambda: _map_blocks(work, halves, threads=2))]
    for numbers in (2**17, 2**19):
        bounds = _even_bounds(n, max(1, numbers // max(1, unit)), threads=2)  # as even as the loss's own blocks
        blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        ways.append(lambda blocks=blocks: _map_blocks(work, blocks, threads=2))
    return tuple(ways)


def irreducible_cross_entropy(x):
    """One exp per logit (into the gradient's buffer), one sum per row, one scaling write of the gradient."""
    rows = x.reshape(-1, x.shape[-1]) if x.ndim == 2 else None
    e = np.empty_like(x)

    def work(part):
        if rows is not None:
            out = e[part]
            np.exp(x[part], out=out)
            s = np.einsum("ij->i", out)
            with _RowBuffer(x.shape[1]):  # the scaling as fast as the kernel's (NumPy's buffer one row long)
                out *= (1.0 / s)[:, None]
        else:  # K-dim (N, C, D): along axis 1, sample by sample
            for n in range(part.start, part.stop):
                out = e[n]
                np.exp(x[n], out=out)
                s = np.add.reduce(out, axis=0)
                out *= 1.0 / s
    return _ways(x.shape[0], work, x[0].size)


def irreducible_mse(x, y):
    """x - y into the gradient's buffer, one read of it for the sum of squares and one scaling write: a ufunc takes
    at most two operands, so the gradient 2 (x - y) / n is at least these two passes, and the loss one more."""
    xs, ys, g = x.reshape(-1), y.reshape(-1), np.empty(x.size, x.dtype)

    def work(part):
        np.subtract(xs[part], ys[part], out=g[part])
        np.dot(g[part], g[part])
        g[part] *= 2 / x.size
    return _ways(x.size, work)


def irreducible_bce(p):
    """The transcendental passes and the one division: 1 - p, log p, log(1 - p) and p / (1 - p) (the gradient is at
    least one division), into arrays of the block's size."""
    flat, out = p.reshape(-1), np.empty(p.size, p.dtype)

    def work(part):
        n = part.stop - part.start
        u, a = _scratch((n,), p.dtype), _scratch((n,), p.dtype, slot=1)  # the thread's own, reused
        np.subtract(1, flat[part], out=u)
        np.log(flat[part], out=a)
        np.log(u, out=out[part])
        np.divide(flat[part], u, out=out[part])
    return _ways(p.size, work)


def irreducible_bce_with_logits(x):
    """The transcendental passes: exp(-|x|) (-|x| from one copysign pass, or from np.abs and np.negative, which
    can be quicker), the log of 1 + that, and for the sigmoid at least one division, z / (1 + z) (cheaper than the
    exp of log sigmoid; the blend that the division would need for x >= 0 is left out). The logs three ways: with
    np.log1p; as np.log of 1 + z (a lower bound of any accurate way through np.log, which must then correct for the
    rounding of 1 + z: where NumPy's log1p is not vectorised, np.log is much faster); and, as the mean and the sum
    need only their total, as one np.log per product of 256 numbers 1 + z, multiplied in float64 (module 04's
    _log1p_sum, without the correction it must add)."""
    flat, out = x.reshape(-1), np.empty(x.size, x.dtype)  # out: as the gradient, an array of x's size

    def passes(log, copysign):
        def work(part):
            n = part.stop - part.start
            z, u = _scratch((n,), x.dtype), _scratch((n,), x.dtype, slot=1)  # the thread's own, reused
            if copysign:
                np.copysign(flat[part], -1, out=z)
            else:
                np.abs(flat[part], out=z)
                np.negative(z, out=z)
            np.exp(z, out=z)
            if log == "log1p":
                np.log1p(z, out=out[part])
            np.add(z, 1, out=u)
            if log == "log":
                np.log(u, out=out[part])
            elif log == "products":
                whole = n // 256 * 256
                np.log(np.multiply.reduce(u[:whole].reshape(256, -1), axis=0, dtype=np.float64))
            np.divide(z, u, out=out[part])
        return _ways(x.size, work)
    return tuple(way for log in ("log1p", "log", "products") for copysign in (True, False)
                 for way in passes(log, copysign))


def irreducible_mlp_step(x, params):
    """The five matrix products of the step (BLAS with its own threads): the first layer's input gradient, ga @ W1,
    is made only when something reads it, and a step does not."""
    W1, _, W2, _ = params
    batch = x.shape[0]
    rng = np.random.default_rng(1)
    h, g, ga = (rng.standard_normal(shape, dtype=np.float32) for shape in ((batch, 128), (batch, 10), (batch, 128)))

    def products():
        x @ W1.T, h @ W2.T, g @ W2, g.T @ h, ga.T @ x
    return (products,)  # BLAS shares them among the cores itself


def thread_handoff(tries=2000):
    """Median seconds to hand a call that does nothing to the kernel's worker thread and have its result back.

    Two threads pay only for work that takes several times this. Where an idle core must be woken up (a virtual
    machine's, say), it is tens of microseconds, while a whole cross entropy of 128 x 1000 logits takes about
    100 us on one core: halving that saves less than the hand-offs cost (and each NumPy call of a thread must
    then take Python's lock back from the other).
    """
    pool = _workers()
    pool.submit(int).result()  # the worker exists and has run once
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        pool.submit(int).result()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------- the cases
def floor_cases(bench, only=None):
    """[(case label, shape, build)] for every case of the table, those whose label contains one of `only` if given.
    build() makes the inputs of that shape (as the case does) and returns (plain floor, (irreducible passes, each
    way of doing them))."""
    def logits(shape):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
        return x, t

    def cross_entropy(shape):
        x, t = logits(shape)
        floor = (lambda: numpy_cross_entropy(x, t)) if len(shape) == 2 else (lambda: numpy_cross_entropy_kdim(x, t))
        return floor, irreducible_cross_entropy(x if len(shape) == 2 else x.reshape(shape[0], shape[1], -1))

    def bce_with_logits(shape):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        y = (rng.uniform(size=shape) < 0.5).astype(np.float32)
        return (lambda: numpy_bce_with_logits(x, y)), irreducible_bce_with_logits(x)

    def mlp(shape):
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal(shape, dtype=np.float32), rng.integers(0, 10, shape[0])
        params = [rng.uniform(-0.1, 0.1, size).astype(np.float32) for size in ((128, 64), (128,), (10, 128), (10,))]
        return (lambda: numpy_mlp_step(x, y, params, 0.1)), irreducible_mlp_step(x, params)

    def mse(shape):
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(shape, dtype=np.float32)
        return (lambda: numpy_mse(x, y)), irreducible_mse(x, y)

    def bce(shape):
        rng = np.random.default_rng(0)
        p = rng.uniform(0.01, 0.99, shape).astype(np.float32)
        y = (rng.uniform(size=shape) < 0.5).astype(np.float32)
        return (lambda: numpy_bce(p, y)), irreducible_bce(p)

    builders = {"CE ": cross_entropy, "MSE ": mse, "BCE with logits ": bce_with_logits, "BCE ": bce,
                "digits MLP step, ": mlp}  # the first prefix that a label starts with
    found = []
    for case in bench.cases():
        build = next((b for prefix, b in builders.items() if case.label.startswith(prefix)), None)
        if build is not None and (not only or any(o.lower() in case.label.lower() for o in only)):
            found.append((case.label, case.shape, lambda build=build, shape=case.shape: build(shape)))
    return found


def run_floors(args, bench):
    torch = bench.torch
    if torch is None:
        print(f"the floors are measured against PyTorch: pip install torch=={bench.TORCH_VERSION}")
        return 0
    threads = torch.get_num_threads()
    cases = {case.label: case for case in bench.cases()}
    print("NumPy's floors for each case, against PyTorch's whole forward + backward (see floors_losses.py):")
    print("plain floor: the fewest NumPy calls, whole arrays, one core, no checks, no protocol;")
    print("irreducible: only the passes that NumPy cannot do without (see floors_losses.py), the fastest of one core,\n"
          "two halves in two threads, and blocks of two sizes shared by two threads")
    selected = floor_cases(bench, args.only)
    if not selected:
        print(f"no case with floors matches {args.only}; they are:\n  " +
              "\n  ".join(label for label, *_ in floor_cases(bench)))
        return 2
    bench.preamble(threads, args.rounds)
    bench.progress("timing a hand-off to the other thread and back")
    print(f"handing a call to the other thread and getting its result back: median "
          f"{bench._duration(thread_handoff())} (two threads pay only for work several times as long)\n")
    header = (f"{'case':36}  {'ours':>9}  {'plain floor':>11}  {'irreducible':>11}  {'torch':>9}  {'ours/torch':>10}"
              f"  {'floor/torch':>11}  {'irred./torch':>12}  {'target':>6}")
    print(header + "\n" + "-" * len(header), flush=True)
    verdicts = []
    for label, _, build in selected:
        bench.progress(f"measuring the floors of {label}")
        floor, ways = build()
        case = cases[label]
        ours, theirs, _ = case.build()
        contenders = {"ours": (lambda: torch.set_num_threads(threads), ours), "floor": (lambda: None, floor),
                      **{f"irreducible {i}": (lambda: None, way) for i, way in enumerate(ways)},
                      "torch": (lambda: torch.set_num_threads(threads), theirs),
                      "torch 1": (lambda: torch.set_num_threads(1), theirs)}
        m = bench.time_in_blocks(contenders, args.rounds, args.budget)
        torch.set_num_threads(threads)
        best = [min(a, b) for a, b in zip(m["torch"], m["torch 1"])]
        least = [min(each) for each in zip(*(m[f"irreducible {i}"] for i in range(len(ways))))]
        ratio = {name: statistics.median(v / b for v, b in zip(values, best))
                 for name, values in (("ours", m["ours"]), ("floor", m["floor"]), ("irreducible", least))}
        print(f"{label:36}  {bench._duration(statistics.median(m['ours'])):>9}  "
              f"{bench._duration(statistics.median(m['floor'])):>11}  {bench._duration(statistics.median(least)):>11}  "
              f"{bench._duration(statistics.median(best)):>9}  {ratio['ours']:>10.2f}  {ratio['floor']:>11.2f}  "
              f"{ratio['irreducible']:>12.2f}  {case.time_target:>6.2f}", flush=True)
        verdicts.append((label, ratio, case.time_target))
    print()
    for label, ratio, target in verdicts:
        if ratio["ours"] <= target:
            print(f"{label}: ours {ratio['ours']:.2f}x PyTorch's time, within the target {target:.2f}x")
        elif ratio["irreducible"] > target:
            print(f"{label}: NumPy cannot meet {target:.2f}x: the irreducible passes alone take "
                  f"{ratio['irreducible']:.2f}x PyTorch's whole step (the plain floor {ratio['floor']:.2f}x); "
                  f"ours, in blocks and threads, {ratio['ours']:.2f}x")
        elif ratio["floor"] > target:
            print(f"{label}: the irreducible passes take {ratio['irreducible']:.2f}x PyTorch's time, the plain floor "
                  f"{ratio['floor']:.2f}x and ours {ratio['ours']:.2f}x: what lies between is NumPy's cost of the "
                  "other passes and of each call")
        else:
            print(f"{label}: the fewest NumPy calls take {ratio['floor']:.2f}x PyTorch's time, ours {ratio['ours']:.2f}x: "
                  "the difference is Python around the calls (protocol, checks, the tasks' structure)")
    print("torch: the faster of its default threads and one thread, round by round; times: medians over the rounds")
    return 0
