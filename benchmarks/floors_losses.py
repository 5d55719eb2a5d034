"""A floor for the hard cases: the fewest NumPy calls each one needs, written plainly (whole arrays, one core, no
checks, no protocol), timed against ours and PyTorch's whole forward + backward in the same rotating blocks
(`tito bench losses --floors`).

For the small cases, where the time goes into the fixed cost of each call, the floor shows how much of ours is
Python around the calls: the module protocol, the input checks the contract asks for, and the structure of the
student tasks. For the large ones it shows how far plain NumPy is from PyTorch, and what the blocks in cache
and the threads of ours recover. A companion of bench_losses.py, which passes itself in as `bench`.
"""
import statistics

import numpy as np


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


def numpy_bce_with_logits(x, y):
    """Binary cross entropy of logits, mean, forward and backward, on the whole arrays (NumPy runs on one core)."""
    log_sigmoid = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
    loss = np.add.reduce((1 - y) * x - log_sigmoid, axis=None) / x.size
    return loss, (np.exp(log_sigmoid) - y) / x.size


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


def floor_cases(bench):
    """(case label, the floor for its inputs): the labels are the table's, and the inputs are the table's too."""
    def cross_entropy(shape):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
        return (lambda: numpy_cross_entropy(x, t)) if len(shape) == 2 else (lambda: numpy_cross_entropy_kdim(x, t))

    def bce_with_logits(shape):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        y = (rng.uniform(size=shape) < 0.5).astype(np.float32)
        return lambda: numpy_bce_with_logits(x, y)

    def mlp(batch):
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((batch, 64), dtype=np.float32), rng.integers(0, 10, batch)
        params = [rng.uniform(-0.1, 0.1, shape).astype(np.float32) for shape in ((128, 64), (128,), (10, 128), (10,))]
        return lambda: numpy_mlp_step(x, y, params, 0.1)

    return [("CE 8 x 10", cross_entropy((8, 10))), ("CE 64 x 100", cross_entropy((64, 100))),
            ("CE 128 x 1000", cross_entropy((128, 1000))),
            ("CE (16, 21, 64, 64) K-dim", cross_entropy((16, 21, 64, 64))),
            ("BCE with logits 10^6", bce_with_logits((10**6,))),
            ("digits MLP step, batch 64", mlp(64)), ("digits MLP step, batch 1024", mlp(1024))]


def run_floors(args, bench):
    torch = bench.torch
    if torch is None:
        print(f"the floors are measured against PyTorch: pip install torch=={bench.TORCH_VERSION}")
        return 0
    threads = torch.get_num_threads()
    cases = {case.label: case for case in bench.cases()}
    print("NumPy's floor: the fewest NumPy calls of each case (no checks, no protocol), against PyTorch's whole step")
    bench.preamble(threads, args.rounds)
    header = f"{'case':36}  {'ours':>9}  {'numpy floor':>11}  {'torch':>9}  {'ours/torch':>10}  {'floor/torch':>11}"
    print(header + "\n" + "-" * len(header), flush=True)
    verdicts = []
    for label, floor in floor_cases(bench):
        bench.progress(f"measuring the floor of {label}")
        ours, theirs, _ = cases[label].build()
        contenders = {"ours": (lambda: torch.set_num_threads(threads), ours), "floor": (lambda: None, floor),
                      "torch": (lambda: torch.set_num_threads(threads), theirs),
                      "torch 1": (lambda: torch.set_num_threads(1), theirs)}
        m = bench.time_in_blocks(contenders, args.rounds, args.budget)
        torch.set_num_threads(threads)
        best = [min(a, b) for a, b in zip(m["torch"], m["torch 1"])]
        ours_ratio = statistics.median(o / b for o, b in zip(m["ours"], best))
        floor_ratio = statistics.median(f / b for f, b in zip(m["floor"], best))
        print(f"{label:36}  {bench._duration(statistics.median(m['ours'])):>9}  "
              f"{bench._duration(statistics.median(m['floor'])):>11}  {bench._duration(statistics.median(best)):>9}  "
              f"{ours_ratio:>10.2f}  {floor_ratio:>11.2f}", flush=True)
        verdicts.append((label, floor_ratio, ours_ratio))
    print()
    for label, floor_ratio, ours_ratio in verdicts:
        if floor_ratio > 1.0:
            print(f"{label}: even the fewest NumPy calls, written plainly, take {floor_ratio:.2f}x PyTorch's whole "
                  f"step; ours, in blocks and threads, {ours_ratio:.2f}x")
        else:
            print(f"{label}: the fewest NumPy calls take {floor_ratio:.2f}x PyTorch's time, ours {ours_ratio:.2f}x: "
                  "the difference is Python around the calls (protocol, checks, the tasks' structure)")
    print("torch: the faster of its default threads and one thread, round by round; times: medians over the rounds")
    return 0
