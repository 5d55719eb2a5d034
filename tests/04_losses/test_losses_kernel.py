"""The given kernel module and the paths it opens: blocks, threads, K-dimensional logits along the class axis,
the stages applied block by block, and the elementwise engine of MSE and the binary cross entropies.

Every comparison is against a plain whole-array NumPy reference in float64; inputs are made large enough
that the blocked and threaded paths really run (several blocks, more than one thread).
"""
import functools
import threading
import tracemalloc

import numpy as np
import pytest

import tinytorch.core.kernels as kernels
import tinytorch.core.losses as losses
from tinytorch.core.autograd import Context
from tinytorch.core.kernels import _even_bounds, _map_blocks, softmax_rows
from tinytorch.core.losses import (
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    _bce_elements,
    _elementwise_loss,
    _squared_error,
    _sum_of_squares,
    cross_entropy,
)
from tinytorch.core.tensor import Tensor


@pytest.fixture
def short_blocks(monkeypatch):
    """MSE and the elementwise engine in blocks of about 2**17 numbers (theirs are longer), so that a test input of a
    few hundred thousand numbers still goes in several blocks, shared by two threads."""
    monkeypatch.setattr(losses, "_CORES", 2)
    monkeypatch.setattr(losses, "_squared_error", functools.partial(losses._squared_error, block=2**17))
    monkeypatch.setattr(losses, "_elementwise_loss", functools.partial(losses._elementwise_loss, block=2**17))


def _reference_rows(x):
    """(m, s, softmax) of rows (R, C) in float64, the plain way."""
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=1)
    e = np.exp(x - m[:, None])
    return m, e.sum(axis=1), e / e.sum(axis=1, keepdims=True)


def _reference_cross_entropy(x, t, weight=None, label_smoothing=0.0):
    """Mean cross entropy and its gradient for logits (N, C, ...) and class indices, in float64, via a one-hot."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1)
    C = x.shape[-1]
    rows, t = x.reshape(-1, C), np.asarray(t).reshape(-1)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    q = ((1 - label_smoothing) * np.eye(C)[t] + label_smoothing / C) * w
    m, s, p = _reference_rows(rows)
    log_p = rows - m[:, None] - np.log(s)[:, None]
    total = w[t].sum()
    loss = -(q * log_p).sum() / total
    grad = (q.sum(axis=1, keepdims=True) * p - q) / total
    return loss, np.moveaxis(grad.reshape(x.shape), -1, 1)



def _peak_bytes_of_a_step(loss, x, t):
    """The peak memory (tracemalloc) of a forward and backward of `loss` on logits x and targets t."""
    tracemalloc.start()
    try:
        loss(x, t)
        loss.backward()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

# ---------------------------------------------------------------- the kernel


@pytest.mark.parametrize("block_bytes", [1, 64, 2**12, 2**21])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_gives_the_same_numbers_for_every_block_size(block_bytes, dtype):
    x = (np.random.default_rng(0).normal(size=(37, 53)) * 5).astype(dtype)
    coef = np.linspace(0.5, 2.0, 37).astype(dtype)
    m, s, e = softmax_rows(x, coef, block_bytes=block_bytes)
    rm, rs, rp = _reference_rows(x)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(m, rm.astype(dtype))
    np.testing.assert_allclose(s, rs, rtol=tol)
    np.testing.assert_allclose(e, rp * coef[:, None], rtol=tol, atol=tol * 1e-3)
    assert e.dtype == dtype and e.flags.c_contiguous


@pytest.mark.parametrize("n, most, threads, least", [
    (0, 5, 2, 1), (1, 5, 2, 2), (7, 100, 2, 1), (7, 100, 2, 2), (361, 20, 2, 1), (100, 3, 2, 1), (37, 1, 2, 1),
    (10, 3, 4, 1), (1000, 1, 8, 1), (5, 2, 1, 1)])
def test_even_bounds_cover_every_item_once_in_blocks_the_threads_share_evenly(n, most, threads, least):
    bounds = _even_bounds(n, most, threads, least)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == n and np.all(sizes > 0)  # every item once, no empty block
    assert np.all(sizes <= most) or len(sizes) >= least  # none longer than `most`, unless `least` asked for more
    if n == 0:
        assert bounds == [0]  # no block at all
        return
    assert sizes.max() - sizes.min() <= 1  # as even as can be
    expected = max(least, -(-n // most))  # as few as `most` allows ...
    if expected > 1:  # ... and a multiple of the threads, as far as n allows
        expected = min(n, -(-expected // threads) * threads)
    assert len(sizes) == expected
    assert len(sizes) == 1 or len(sizes) % threads == 0 or len(sizes) == n


@pytest.mark.task("04.1", "04.8")
def test_the_elementwise_losses_share_their_blocks_evenly_among_the_cores(monkeypatch):
    monkeypatch.setattr(losses, "_CORES", 2)
    seen, original = [], losses._map_blocks

    def spy(work, blocks, threads=2):
        seen.append(list(blocks))
        return original(work, blocks, threads=threads)
    monkeypatch.setattr(losses, "_map_blocks", spy)
    x = np.random.default_rng(4).normal(size=(100, 40000)).astype(np.float32)
    y = (x > 0).astype(np.float32)
    monkeypatch.setattr(losses, "_L2_BYTES", 2**21)  # blocks of 2**19 numbers: at most 13 rows of 40,000
    losses.binary_cross_entropy_with_logits(x, y)
    losses.mse_loss(x, y)
    assert [len(b) for b in seen] == [8, 4]  # 8 blocks of 12-13 rows (not 7 of 13 and one of 9); 4 of 10**6 numbers
    monkeypatch.setattr(losses, "_L2_BYTES", 2**20)  # a cache of 1 MiB: blocks of 2**18 numbers, at most 6 rows
    losses.binary_cross_entropy_with_logits(x, y)
    losses.mse_loss(x, y)
    assert [len(b) for b in seen[2:]] == [18, 4]  # 17 blocks would do, 18 share evenly; MSE's blocks do not change
    monkeypatch.setattr(losses, "_L2_BYTES", 2**19)  # 512 KiB: blocks of 2**18 numbers all the same (the least)
    losses.binary_cross_entropy_with_logits(x, y)
    assert [len(b) for b in seen[4:]] == [18]


def _cache_listing(folder, *entries):
    """A Linux-style cache listing: one index<i> folder per (level, type, size, shared_cpu_list) entry."""
    for index, entry in enumerate(entries):
        path = folder / f"index{index}"
        path.mkdir(parents=True)
        for name, value in zip(("level", "type", "size", "shared_cpu_list"), entry):
            if value is not None:  # None: that file is missing
                (path / name).write_text(value + "\n")
    return str(folder)


def test_the_level_2_cache_is_read_where_linux_lists_it_and_assumed_2_mib_elsewhere(tmp_path):
    first_level = [("1", "Data", "48K", "0"), ("1", "Instruction", "32K", "0")]
    read = kernels._l2_cache_bytes
    assert read(_cache_listing(tmp_path / "a", *first_level, ("2", "Unified", "1024K", "0"),
                               ("3", "Unified", "32768K", "0-1"))) == 2**20
    assert read(_cache_listing(tmp_path / "b", ("2", "Unified", "2M", "0"))) == 2**21
    # an instruction cache listed first is passed over; so is an entry that cannot be read
    assert read(_cache_listing(tmp_path / "c", ("2", "Instruction", "256K", "0"), (None, "Data", "512K", "0"),
                               ("2", "Data", "512K", "0"))) == 2**19
    # one core's share of a cache that four share, within the bounds: 2 MiB / 4, and 32 MiB / 4 kept to 2 MiB
    assert read(_cache_listing(tmp_path / "d", ("2", "Unified", "2048K", "0-3"))) == 2**19
    assert read(_cache_listing(tmp_path / "e", ("2", "Unified", "32M", "0-1,4-5"))) == 2**21
    assert read(_cache_listing(tmp_path / "f", ("2", "Unified", "64K", None))) == 2**18  # no sharing listed: one
    # sizes that make no sense or are not read here: the default, not an error and not a block of one row
    for i, size in enumerate(["0K", "-4K", "large", ""]):
        assert read(_cache_listing(tmp_path / f"g{i}", ("2", "Unified", size, "0"))) == 2**21, size
    assert read(str(tmp_path / "absent")) == 2**21  # no such listing (macOS, Windows)
    assert read(str(tmp_path / "absent"), default=12345) == 12345
    assert 2**18 <= kernels._L2_BYTES <= 2**21  # this machine's, read at import


@pytest.mark.parametrize("shape, hook, starts", [
    ((512, 1000), False, None),  # 2 MB: one block, no threads
    ((375, 1000), True, [0]),  # 1.5 MB with a hook: one block as well (one start: no threads)
    ((1024, 1000), False, [0, 512]),  # 4 MB: two blocks of 2 MB, one per thread, rather than one block of 4
    ((1024, 1000), True, [0, 512]),  # the same with a hook
    ((1500, 1000), False, [0, 750]),  # 6 MB: two of 3 MB, not blocks of 4 and 2
    ((6, 500000), False, [0, 1, 3, 4]),  # rows of 2 MB: 2 rows (4 MB) at most, so 3 blocks, made 4 of 1 or 2 rows
    ((96, 50000), False, list(range(0, 96, 16)))])  # 19 MB: 20 rows (4 MB) at most, so 5 blocks, made 6 of 16 rows
def test_rows_go_in_blocks_of_at_most_4_mib_that_the_threads_share_evenly(shape, hook, starts, monkeypatch):
    monkeypatch.setattr(kernels, "_CORES", 2)
    seen, original = [], kernels._map_blocks

    def spy(work, block_starts, threads):
        seen.append((list(block_starts), threads))
        return original(work, block_starts, threads=threads)
    monkeypatch.setattr(kernels, "_map_blocks", spy)
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    coef, rows_seen = np.float32(1 / shape[0]), []
    m, s, e = softmax_rows(x, coef, (lambda rows, *_: rows_seen.append((rows.start, rows.stop))) if hook else None)
    assert seen == ([] if starts is None else [(starts, 2)])
    if hook:  # every row exactly once
        assert sorted(rows_seen) == list(zip(starts, starts[1:] + [shape[0]]))
    rm, rs, rp = _reference_rows(x)
    np.testing.assert_array_equal(m, rm.astype(np.float32))
    np.testing.assert_allclose(e, rp * coef, rtol=1e-5, atol=1e-12)  # float32 sums of up to 500,000 terms


def test_softmax_rows_of_k_dimensional_logits_reduces_along_axis_1_in_the_logits_layout():
    x = np.random.default_rng(1).normal(size=(3, 5, 700)) * 3  # (N, C, D): 2,100 rows of 5 classes
    coef = np.full(3 * 700, 0.25)
    m, s, e = softmax_rows(x, coef, block_bytes=2**10)  # several blocks per sample
    rows = np.moveaxis(x, 1, -1).reshape(-1, 5)
    rm, rs, rp = _reference_rows(rows)
    np.testing.assert_array_equal(m, rm)
    np.testing.assert_allclose(s, rs, rtol=1e-12)
    assert e.shape == x.shape and e.flags.c_contiguous
    np.testing.assert_allclose(e, np.moveaxis((rp * 0.25).reshape(3, 700, 5), -1, 1), rtol=1e-12)


@pytest.mark.parametrize("shape", [(40, 30000), (4, 6, 50000)], ids=["rows", "k-dim"])
def test_each_block_sees_every_row_exactly_once_with_its_own_maxima_and_sums(shape):
    x = np.random.default_rng(2).normal(size=shape).astype(np.float32)  # > 1 MiB: shared among threads
    seen = np.zeros(x.size // shape[1], int)
    lock = threading.Lock()

    def each_block(rows, rows_of, m, s, e):
        block = rows_of(x)
        assert block.shape == (rows.stop - rows.start, shape[1]) and e.shape == block.shape
        np.testing.assert_array_equal(m, block.max(axis=1))
        np.testing.assert_allclose(s, np.exp(block - m[:, None]).sum(axis=1), rtol=1e-5)
        with lock:
            seen[rows] += 1

    softmax_rows(x, None, each_block, block_bytes=2**18)
    assert np.all(seen == 1)


def test_softmax_rows_without_coef_keeps_nothing_of_the_logits_size():
    x = np.random.default_rng(3).normal(size=(64, 20000)).astype(np.float32)
    m, s, e = softmax_rows(x)
    assert e is None
    np.testing.assert_allclose(s, _reference_rows(x)[1], rtol=1e-5)


def test_softmax_rows_does_not_change_its_input():
    x = np.random.default_rng(4).normal(size=(64, 20000)).astype(np.float32)
    before = x.copy()
    softmax_rows(x, np.ones(64, np.float32))
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------- the worker pool


def test_map_blocks_reraises_an_error_raised_in_a_worker():
    def work(start):
        if start == 7:
            raise KeyError("block 7")

    with pytest.raises(KeyError, match="block 7"):
        _map_blocks(work, range(16), threads=2)


def test_map_blocks_runs_every_start_once_and_keeps_one_pool():
    done = np.zeros(100, int)
    _map_blocks(lambda start: done.__setitem__(start, done[start] + 1), range(100), threads=2)
    first = kernels._workers()
    _map_blocks(lambda start: None, range(10), threads=2)
    assert np.all(done == 1) and kernels._workers() is first


def test_the_workers_run_under_the_callers_numpy_error_state():
    states = []
    with np.errstate(all="raise"):
        _map_blocks(lambda start: states.append(np.geterr()["under"]), range(8), threads=2)
    assert states == ["raise"] * 8


def test_a_forked_child_makes_a_pool_of_its_own():
    first = kernels._workers()
    kernels._forget_pool()  # what os.register_at_fork runs in the child
    assert kernels._workers() is not first


# ---------------------------------------------------------------- K-dimensional cross entropy


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 5, 3, 7), (4, 21, 40, 40), (13, 21, 64, 64)],
                         ids=["d1", "d1-d2", "large", "blocks of whole samples of two sizes"])
def test_k_dimensional_cross_entropy_gives_a_contiguous_gradient_in_the_logits_layout(shape):
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape) * 3
    t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    loss = CrossEntropyLoss()
    value = loss(x, t).item()
    grad = loss.backward().data
    expected_value, expected_grad = _reference_cross_entropy(x, t)
    assert grad.shape == x.shape and grad.flags.c_contiguous
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-15)


def test_k_dimensional_cross_entropy_makes_no_transposed_copy_of_the_logits():
    x = np.random.default_rng(6).normal(size=(8, 21, 64, 64)).astype(np.float32)
    t = np.random.default_rng(7).integers(0, 21, size=(8, 64, 64))
    peak = _peak_bytes_of_a_step(CrossEntropyLoss(), x, t)
    assert peak < 1.5 * x.nbytes  # the gradient, the per-position sums: no second array of the logits' size


@pytest.mark.parametrize("options", [
    pytest.param(dict(weight=np.linspace(0.5, 2, 21)), id="weight", marks=pytest.mark.task("04.4")),
    pytest.param(dict(label_smoothing=0.2), id="smoothing", marks=pytest.mark.task("04.5")),
    pytest.param(dict(weight=np.linspace(0.5, 2, 21), label_smoothing=0.2), id="both",
                 marks=pytest.mark.task("04.4", "04.5"))])
def test_k_dimensional_cross_entropy_with_options_matches_the_reference(options):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 21, 30, 30)) * 2
    t = rng.integers(0, 21, size=(3, 30, 30))
    loss = CrossEntropyLoss(**options)
    value = loss(x, t).item()
    expected_value, expected_grad = _reference_cross_entropy(x, t, options.get("weight"),
                                                             options.get("label_smoothing", 0.0))
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(loss.backward().data, expected_grad, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- label smoothing and weights, block by block


@pytest.mark.parametrize("options", [
    pytest.param(dict(label_smoothing=0.1), id="smoothing", marks=pytest.mark.task("04.3", "04.5")),
    pytest.param(dict(weight=True), id="weight", marks=pytest.mark.task("04.3", "04.4")),
    pytest.param(dict(weight=True, label_smoothing=0.1), id="both", marks=pytest.mark.task("04.3", "04.4", "04.5"))])
def test_options_on_many_blocks_and_threads_match_the_reference(options):
    rng = np.random.default_rng(9)
    x = (rng.normal(size=(256, 4096)) * 4).astype(np.float32)  # 4 MiB: small blocks, shared among threads
    t = rng.integers(0, 4096, 256)
    weight = rng.uniform(0.5, 2.0, 4096) if options.get("weight") else None
    loss = CrossEntropyLoss(weight=weight, label_smoothing=options.get("label_smoothing", 0.0))
    value = loss(x, t).item()
    grad = loss.backward().data
    expected_value, expected_grad = _reference_cross_entropy(x, t, weight, options.get("label_smoothing", 0.0))
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-9)


@pytest.mark.task("04.3", "04.4", "04.5")
def test_label_smoothing_adds_no_temporary_of_the_logits_size():
    x = np.random.default_rng(10).normal(size=(128, 50000)).astype(np.float32)
    t = np.random.default_rng(11).integers(0, 50000, 128)
    peak = _peak_bytes_of_a_step(CrossEntropyLoss(weight=np.linspace(0.5, 2, 50000), label_smoothing=0.1), x, t)
    assert peak <= 1.05 * x.nbytes, (
        f"peak extra memory {peak / x.nbytes:.2f}x the logits (the gradient itself is 1.00x; the contract 1.05x): "
        "a temporary as large as a block, made for each block, is already too much; for Task 04.5's uniform part "
        "take `shifted @ w`, a product that makes no temporary, rather than `(shifted * w).sum(axis=1)`")


@pytest.mark.task("04.4")
def test_an_ignored_position_of_k_dimensional_logits_gets_a_zero_gradient_even_for_a_nan_grad_output():
    x = np.random.default_rng(12).normal(size=(2, 3, 4))
    t = np.array([[0, -100, 2, 1], [1, 1, -100, 0]])
    loss = CrossEntropyLoss(reduction="none")
    loss(x, t)
    g = np.ones((2, 4))
    g[0, 1] = g[1, 2] = np.nan
    grad = loss.backward(g).data
    assert np.all(grad[0, :, 1] == 0) and np.all(grad[1, :, 2] == 0) and np.all(np.isfinite(grad))


@pytest.mark.task("04.6")
def test_probability_targets_on_many_blocks_match_the_reference():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(64, 8192)).astype(np.float32)
    p = rng.dirichlet(np.ones(8192), size=64).astype(np.float32)
    value = cross_entropy(x, p, label_smoothing=0.1).item()
    q = 0.9 * p.astype(np.float64) + 0.1 / 8192
    m, s, _ = _reference_rows(x)
    expected = -(q * (x - m[:, None] - np.log(s)[:, None])).sum() / 64
    np.testing.assert_allclose(value, expected, rtol=1e-5)


# ---------------------------------------------------------------- the elementwise engine


@pytest.mark.task("04.7")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_elementwise_engine_on_many_blocks_equals_the_whole_array_formula(reduction):
    rng = np.random.default_rng(14)
    p, y = rng.uniform(0.01, 0.99, (700, 1000)), rng.random((700, 1000))
    weight = rng.uniform(0.5, 2.0, 1000)
    ctx = Context()
    value = _elementwise_loss(ctx, _bce_elements, p, y, weight=weight, reduction=reduction, block=2**17)  # 6 blocks
    per_element = -weight * (y * np.log(p) + (1 - y) * np.log1p(-p))
    expected = {"mean": per_element.mean(), "sum": per_element.sum(), "none": per_element}[reduction]
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    scale = 1 / p.size if reduction == "mean" else 1.0
    np.testing.assert_allclose(ctx.saved_tensors[0], weight * (p - y) / (p * (1 - p)) * scale, rtol=1e-12)


@pytest.mark.task("04.1")
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_sum_of_squares_of_millions_stays_as_accurate_as_a_pairwise_sum(dtype):
    d = np.random.default_rng(17).normal(size=3_000_000).astype(dtype)
    exact = np.sum(d.astype(np.float64) ** 2)
    tol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(_sum_of_squares(d), exact, rtol=tol)
    mean = MSELoss()(d, np.zeros_like(d))  # the same sum, block by block in two threads
    assert mean.dtype == dtype
    if dtype != np.float16:  # a mean of about 1 is fine in float16; 3 million squares are past its 65,504: inf
        np.testing.assert_allclose(float(MSELoss(reduction="sum")(d, np.zeros_like(d)).item()), exact, rtol=tol)
    np.testing.assert_allclose(float(mean.item()), exact / d.size, rtol=tol)


@pytest.mark.task("04.1")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse_on_many_blocks_in_two_threads_equals_the_whole_array_formula(reduction, dtype, short_blocks):
    rng = np.random.default_rng(18)
    x, y = rng.normal(size=(700, 1000)).astype(dtype), rng.normal(size=(700, 1000)).astype(dtype)  # 6 blocks
    loss = MSELoss(reduction=reduction)
    value = loss(x, y).data
    grad = loss.backward(None if reduction != "none" else np.ones_like(x)).data
    d = x.astype(np.float64) - y
    expected = {"mean": (d * d).mean(), "sum": (d * d).sum(), "none": d * d}[reduction]
    tol = 1e-12 if dtype == np.float64 else 1e-6
    assert value.dtype == grad.dtype == dtype and grad.shape == x.shape and grad.flags.c_contiguous
    np.testing.assert_allclose(value, expected, rtol=tol)
    scale = 1 / x.size if reduction == "mean" else 1.0
    np.testing.assert_array_equal(grad, (2 * scale * (x - y)).astype(dtype))  # each block as the whole-array formula


@pytest.mark.task("04.1")
def test_mse_blocks_end_where_the_input_does_and_a_transposed_input_is_read_in_its_own_order():
    rng = np.random.default_rng(19)
    x, y = rng.normal(size=(300, 1001)).T, rng.normal(size=(1001, 300))  # not contiguous; 300,300 numbers
    ctx = Context()
    value = _squared_error(ctx, x, y, "mean", block=2**17)  # 4 blocks
    np.testing.assert_allclose(value, ((x - y) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(ctx.saved_tensors[0], 2 * (x - y) / x.size, rtol=1e-12)
    ctx = Context(needs_grad=False)  # no backward: nothing saved, the differences go into scratch arrays
    np.testing.assert_allclose(_squared_error(ctx, x, y, "sum", block=1000), ((x - y) ** 2).sum(), rtol=1e-12)
    assert ctx.saved_tensors == ()


@pytest.mark.task("04.1")
def test_an_error_in_the_students_block_reaches_the_caller_unchanged(monkeypatch, short_blocks):
    def broken(x, y, diff, scale=None, squares=None):
        raise ValueError("Task 04.1 broken on purpose")
    monkeypatch.setattr(losses, "_mse_block", broken)
    x = np.zeros(5 * 2**17)  # 6 blocks: the error comes back from the other thread too
    with pytest.raises(ValueError, match="broken on purpose"):
        MSELoss()(x, x)


@pytest.mark.task("04.8")
def test_the_elementwise_engine_broadcasts_weight_and_pos_weight_within_each_block(short_blocks):
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(3000, 100)) * 3, (rng.random((3000, 100)) < 0.5).astype(np.float64)  # 4 blocks
    weight, pos_weight = rng.uniform(0.5, 2, (3000, 1)), rng.uniform(0.5, 3, 100)
    loss = BinaryCrossEntropyWithLogitsLoss(weight=weight, pos_weight=pos_weight, reduction="sum")
    value = loss(x, y).item()
    positive = 1 + (pos_weight - 1) * y
    log_sigmoid = -np.logaddexp(0, -x)
    expected = (weight * ((1 - y) * x - positive * log_sigmoid)).sum()
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    sigmoid = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(loss.backward().data, weight * (positive * sigmoid - pos_weight * y), rtol=1e-10)


@pytest.mark.task("04.1")
def test_the_elementwise_engine_handles_zero_dimensional_and_empty_inputs():
    loss = MSELoss()
    assert loss(np.array(3.0), np.array(1.0)).item() == 4.0
    assert loss.backward().data.tolist() == 4.0
    assert np.isnan(MSELoss()(np.zeros(0), np.zeros(0)).item())
    assert MSELoss(reduction="sum")(np.zeros((0, 3)), np.zeros((0, 3))).item() == 0.0


@pytest.mark.task("04.1")
def test_a_backward_with_grad_output_two_doubles_the_saved_gradient():
    loss = MSELoss(reduction="sum")
    loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert loss.backward(Tensor(np.array(2.0))).data.tolist() == [4.0, 8.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [1.0, 30.0, 200.0], ids=["small", "wide", "beyond the shortcut"])
def test_the_shortcut_without_the_subtraction_gives_the_shifted_numbers(dtype, spread):
    rng = np.random.default_rng(16)
    x = (rng.normal(size=(64, 1000)) * spread).astype(dtype)  # 64,000 numbers: big enough for the shortcut
    x[3, :] -= 55.0  # a row whose maximum is far below 0, and numbers that underflow exp(x)
    coef = rng.uniform(0.5, 2.0, 64).astype(dtype)
    m, s, e = softmax_rows(x, coef)
    rm, rs, rp = _reference_rows(x)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(m, rm.astype(dtype))
    np.testing.assert_allclose(s, rs, rtol=tol)
    # float32's x - m rounds in its last digit: probabilities below 1e-12 may be off by more than tol, relatively
    np.testing.assert_allclose(e, rp * coef[:, None], rtol=tol, atol=1e-30 if dtype == np.float64 else 1e-12)


# ---------------------------------------------------------------- any shift: no maxima when the sums allow it


def _log_sum_exp(x):
    rm, rs, _ = _reference_rows(x)
    return rm + np.log(rs)


SHIFT_SHAPES = pytest.mark.parametrize("shape", [(64, 1000), (16, 200)], ids=["blocks", "small path"])


@SHIFT_SHAPES
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [1.0, 30.0, 200.0], ids=["in range", "wide", "far"])
def test_any_shift_gives_each_rows_log_sum_exp_and_softmax(dtype, spread, shape):
    rng = np.random.default_rng(16)
    x = (rng.normal(size=shape) * spread).astype(dtype)
    x[3, :] -= 55.0  # a row whose maximum is far below 0
    coef = rng.uniform(0.5, 2.0, shape[0]).astype(dtype)
    with np.errstate(over="ignore"):  # exp(x) may overflow before the sums show it: the losses ignore it
        m, s, e = softmax_rows(x, coef, any_shift=True)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    lse = m.astype(np.float64) + np.log(s.astype(np.float64))  # s = sum exp(x - m), whatever the shift m
    np.testing.assert_allclose(lse, _log_sum_exp(x), rtol=tol, atol=tol)
    np.testing.assert_allclose(e, _reference_rows(x)[2] * coef[:, None], rtol=tol,
                               atol=1e-30 if dtype == np.float64 else 1e-12)
    beyond = np.abs(x.max(axis=1)).max() > (600 if dtype == np.float64 else 60)
    if beyond:  # the sums show it: the block is done the careful way, with the maxima
        np.testing.assert_array_equal(m, x.max(axis=1))
    else:  # the maxima skipped: m is the log-sum-exp itself, and s about 1
        np.testing.assert_allclose(s, 1.0, rtol=1e-5)
    assert spread < 30 or dtype == np.float64 or beyond  # the float32 cases above 60 take the careful path


@SHIFT_SHAPES
@pytest.mark.parametrize("value", [np.nan, np.inf, 89.0, -1e4])
def test_any_shift_falls_back_on_a_row_that_overflows_or_is_not_a_number(value, shape):
    x = np.random.default_rng(17).normal(size=shape).astype(np.float32)
    if value == -1e4:
        x[5] = value  # a whole row far below: its sum underflows to 0
    else:
        x[5, 7] = value
    ones = np.ones(shape[0], np.float32)
    with np.errstate(all="ignore"):  # as in the losses: the kernel runs under its caller's errstate
        fast, careful = softmax_rows(x, ones, any_shift=True), softmax_rows(x, ones)
    for a, b in zip(fast, careful):
        np.testing.assert_array_equal(a, b)


@SHIFT_SHAPES
def test_any_shift_keeps_a_minus_infinity_a_zero_probability(shape):
    x = np.random.default_rng(21).normal(size=shape).astype(np.float32)
    x[:, 0] = -np.inf  # a class that is never possible
    m, s, e = softmax_rows(x, np.ones(shape[0], np.float32), any_shift=True)
    assert np.all(e[:, 0] == 0) and np.allclose(s, 1.0) and np.allclose(e.sum(axis=1), 1.0)


def _record_results(monkeypatch, name):
    """Replace the kernel's function `name` by one that calls it and keeps each result in the list returned."""
    seen, original = [], getattr(kernels, name)

    def spy(*args, **kwargs):
        seen.append(original(*args, **kwargs))
        return seen[-1]
    monkeypatch.setattr(kernels, name, spy)
    return seen


@pytest.fixture
def small_shortcuts(monkeypatch):
    """What each call of the small path's shortcut without maxima returned (None: not taken)."""
    return _record_results(monkeypatch, "_small_without_maxima")


@pytest.mark.task("04.3")
def test_a_small_cross_entropy_skips_the_maxima_from_2048_numbers_on(small_shortcuts):
    rng = np.random.default_rng(30)
    x, t = rng.normal(size=(64, 100)).astype(np.float32), rng.integers(0, 100, 64)
    value, grad = (loss := CrossEntropyLoss())(x, t).item(), loss.backward().data
    assert len(small_shortcuts) == 1 and small_shortcuts[0] is not None
    expected_value, expected_grad = _reference_cross_entropy(x, t)
    np.testing.assert_allclose(value, expected_value, rtol=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5, atol=1e-9)
    cross_entropy(x[:20], t[:20])  # 2,000 numbers: its tests would cost what it saves
    cross_entropy(rng.normal(size=(64, 20)).astype(np.float32), t % 20)  # short rows: class by class
    assert len(small_shortcuts) == 1


def test_the_small_shortcut_never_overflows_even_outside_the_losses_errstate():
    x = np.random.default_rng(31).normal(size=(16, 200)).astype(np.float32)
    x[3, 4] = 89.0  # exp(89) overflows float32: the largest logit is seen before any exponential
    with np.errstate(over="raise", invalid="raise"):
        m, s, e = softmax_rows(x, np.ones(16, np.float32), any_shift=True)
    np.testing.assert_array_equal(m, x.max(axis=1))  # the four steps, with the maxima
    assert kernels._small_without_maxima(x.astype(np.float16), None, np.float32) is None  # float16: never


def test_any_shift_on_k_dimensional_samples_and_with_nothing_kept():
    x = np.random.default_rng(18).normal(size=(3, 5, 7000)) * 3  # whole samples in a block, and two threads
    m, s, e = softmax_rows(x, 0.5, any_shift=True)
    rows = np.moveaxis(x, 1, -1).reshape(-1, 5)
    np.testing.assert_allclose(m + np.log(s), _log_sum_exp(rows), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(e, np.moveaxis((_reference_rows(rows)[2] * 0.5).reshape(3, 7000, 5), -1, 1),
                               rtol=1e-12)
    m, s, none = softmax_rows(x[:, :, :4000].copy(), any_shift=True)
    assert none is None and np.allclose(s, 1.0)


@pytest.mark.task("04.3")
def test_a_confident_rows_small_loss_keeps_its_digits_in_float32():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(128, 1000)).astype(np.float32)  # in range: the kernel skips the maxima
    t = rng.integers(0, 1000, 128)
    x[np.arange(4), t[:4]] = [15.0, 12.0, 30.0, -10.0]  # three confident rows (losses 5e-4 and less), one wrong
    got = cross_entropy(x, t, reduction="none").data
    expected = _log_sum_exp(x) - x.astype(np.float64)[np.arange(128), t]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)  # the float32 parity tolerance, as PyTorch's
    assert abs(got[2]) < 1e-7 and abs(got[0] - expected[0]) < 3e-7  # 5e-4 to within about one float32 step of 1


@pytest.mark.parametrize("spread", [1.0, 20.0], ids=["in range", "beyond the hook's 16"])
@pytest.mark.task("04.3", "04.4", "04.5")
def test_label_smoothing_with_any_shift_matches_the_reference(spread):
    rng = np.random.default_rng(20)
    x = (rng.normal(size=(64, 1000)) * spread).astype(np.float32)
    t, weight = rng.integers(0, 1000, 64), rng.uniform(0.5, 2.0, 1000)
    loss = CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    value, grad = loss(x, t).item(), loss.backward().data
    expected_value, expected_grad = _reference_cross_entropy(x, t, weight, 0.1)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-9)


@pytest.fixture
def shortcuts(monkeypatch):
    """What each call of the kernel's shortcut without maxima returned (True: taken), for the losses to be checked."""
    return _record_results(monkeypatch, "_without_maxima")


@pytest.mark.parametrize("options", [
    pytest.param(dict(), id="plain", marks=pytest.mark.task("04.3")),
    pytest.param(dict(weight=True), id="weight", marks=pytest.mark.task("04.3", "04.4")),
    pytest.param(dict(label_smoothing=0.1), id="smoothing", marks=pytest.mark.task("04.3", "04.5")),
    pytest.param(dict(probabilities=True), id="probabilities", marks=pytest.mark.task("04.6")),
    pytest.param(dict(kdim=True), id="k-dim")])
def test_the_cross_entropy_skips_the_maxima_of_logits_in_range(options, shortcuts):
    rng = np.random.default_rng(22)
    shape = (4, 21, 32, 32) if options.get("kdim") else (64, 1000)
    x = rng.normal(size=shape).astype(np.float32)
    C = shape[1]
    t = rng.integers(0, C, shape[:1] + shape[2:])
    if options.get("probabilities"):
        t = rng.dirichlet(np.ones(C), size=shape[0]).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, C) if options.get("weight") else None
    loss = CrossEntropyLoss(weight=weight, label_smoothing=options.get("label_smoothing", 0.0))
    loss(x, t)
    loss.backward()
    assert shortcuts and all(shortcuts)


@pytest.mark.task("04.3", "04.5")
def test_label_smoothing_keeps_the_maxima_beyond_16_where_plain_rows_do_not(shortcuts):
    x = np.random.default_rng(23).normal(size=(64, 1000)).astype(np.float32) + 30  # maxima near 33
    t = np.random.default_rng(24).integers(0, 1000, 64)
    cross_entropy(x, t)
    assert shortcuts == [True]  # within +-60: exp(x) is safe
    shortcuts.clear()
    value = cross_entropy(x, t, label_smoothing=0.1).item()
    assert shortcuts == [False]  # the hook's own sums would lose digits beyond +-16
    np.testing.assert_allclose(value, _reference_cross_entropy(x, t, label_smoothing=0.1)[0], rtol=1e-5)


def test_float16_logits_always_take_the_careful_path(shortcuts):
    x = np.random.default_rng(25).normal(size=(64, 1000)).astype(np.float16)
    m, s, e = softmax_rows(x, np.ones(64, np.float16), any_shift=True)
    assert shortcuts == [False]
    np.testing.assert_array_equal(m, x.max(axis=1))


@pytest.mark.task("04.3")
def test_the_shift_keeps_the_losses_of_large_logits_to_a_few_steps_of_one():
    # logits near 50, in range: m = log s is near 57, whose float32 spacing is 4e-6; s rescaled to m keeps the
    # losses (about 2.5) within a few 1e-7 of the exact ones, as with the maxima, and not to within 2e-6
    rng = np.random.default_rng(26)
    x = rng.normal(size=(64, 1000)).astype(np.float32) + 50
    t = rng.integers(0, 1000, 64)
    x[np.arange(64), t] = 55.0
    got = cross_entropy(x, t, reduction="none").data.astype(np.float64)
    expected = _log_sum_exp(x) - x.astype(np.float64)[np.arange(64), t]
    assert np.abs(got - expected).max() < 5e-7


def test_after_one_block_needs_the_maxima_the_others_go_straight_to_them():
    x = np.random.default_rng(27).normal(size=(64, 1000)).astype(np.float32)
    x[:20] *= 100  # the first block of 20 rows (20,000 numbers: enough to try the shortcut), far out of range
    m, s, e = softmax_rows(x, np.ones(64, np.float32), block_bytes=20 * 1000 * 4, any_shift=True)  # one thread
    np.testing.assert_array_equal(m, x.max(axis=1))  # every block with the maxima, not only the first
    np.testing.assert_allclose(e, _reference_rows(x)[2], rtol=2e-6, atol=1e-12)


def test_a_block_too_small_to_try_the_shortcut_does_not_stop_the_next_ones(shortcuts):
    x = np.random.default_rng(29).normal(size=(2, 5, 5000))  # per sample, blocks of 4,000 and 1,000 positions
    m, s, e = softmax_rows(x, 1.0, block_bytes=5 * 4000 * 8, any_shift=True)  # 400 KB: one thread, in order
    assert shortcuts == [True, True]  # the 4,000-position block of each sample; the small ones are not tried
    np.testing.assert_allclose(m + np.log(s), _log_sum_exp(np.moveaxis(x, 1, -1).reshape(-1, 5)), rtol=1e-12)


def test_a_first_row_out_of_range_is_seen_before_any_exponential():
    x = np.random.default_rng(28).normal(size=(64, 1000)).astype(np.float32)
    x[0, 0] = 100.0
    out, m, s = np.full_like(x, 7.0), np.zeros(64, np.float32), np.zeros(64, np.float32)
    assert not kernels._without_maxima(x, out, m, s, None)
    assert np.all(out == 7.0) and np.all(m == 0) and np.all(s == 0)  # nothing was written


@pytest.mark.parametrize("shape, target_shape", [((0, 21, 8, 8), (0, 8, 8)), ((2, 21, 0, 8), (2, 0, 8))],
                         ids=["no samples", "no positions"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_k_dimensional_logits_with_no_rows_give_what_pytorch_gives(shape, target_shape, reduction):
    loss = CrossEntropyLoss(reduction=reduction)
    value = loss(np.zeros(shape, np.float32), np.zeros(target_shape, np.int64)).data
    grad = loss.backward(np.zeros(target_shape, np.float32) if reduction == "none" else None).data
    assert grad.shape == shape and grad.dtype == np.float32
    if reduction == "none":
        assert value.shape == target_shape
    else:
        assert value.shape == () and (np.isnan(value) if reduction == "mean" else value == 0.0)


def test_a_row_of_nan_or_inf_takes_the_careful_path():
    x = np.zeros((64, 1000), np.float32)
    x[0, 0], x[1, 0] = np.nan, np.inf
    with np.errstate(invalid="ignore"):  # inf - inf: the kernel runs under its caller's errstate, as in the losses
        m, s, e = softmax_rows(x, np.ones(64, np.float32))
    assert np.isnan(m[0]) and np.isinf(m[1]) and np.all(np.isnan(e[:2]) | (e[:2] == 0))
    np.testing.assert_allclose(e[2:], 1e-3, rtol=1e-6)


# ---------------------------------------------------------------- NumPy's buffer, one row long


def _buffer_sizes_seen(shape, **options):
    """np.getbufsize() as each block of softmax_rows saw it, on float32 logits of `shape`, and the kernel's numbers."""
    seen, lock = [], threading.Lock()

    def each_block(rows, rows_of, m, s, e):
        with lock:
            seen.append(np.getbufsize())

    x = np.random.default_rng(4).standard_normal(shape, dtype=np.float32)
    result = softmax_rows(x, np.float32(0.5), each_block, **options)
    return seen, result


@pytest.mark.parametrize("C, expected", [(1000, 992), (4096, 4096), (512, 512), (256, 8192), (5000, 8192), (10000, 8192)])
def test_the_blocks_run_with_a_buffer_of_one_row_for_512_to_4096_classes(C, expected):
    seen, _ = _buffer_sizes_seen((max(64, 2**15 // C), C))
    assert seen and set(seen) == {expected}  # NumPy's default, 8192, outside that range
    assert np.getbufsize() == 8192


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0",
                    reason="NumPy's buffer size follows the caller's context into the threads from NumPy 2.0 on")
def test_the_worker_threads_get_the_buffer_too():
    seen, _ = _buffer_sizes_seen((1024, 1000), block_bytes=2**17)  # 4 MB: 32 blocks, shared by the threads
    assert len(seen) == 32 and set(seen) == {992}


def test_the_buffer_size_is_the_callers_again_afterwards_even_after_an_error():
    x = np.zeros((64, 1000), np.float32)

    def failing(rows, rows_of, m, s, e):
        raise KeyError("hook")

    old = np.setbufsize(4096)
    try:
        softmax_rows(x, 1.0)
        assert np.getbufsize() == 4096
        with pytest.raises(KeyError, match="hook"):
            softmax_rows(x, 1.0, failing)
        assert np.getbufsize() == 4096
    finally:
        np.setbufsize(old)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_the_buffer_changes_no_number(monkeypatch, dtype):
    # float16 is the case that can differ: NumPy casts through its buffer, and a float16 sum added up in float32 by
    # np.add.reduce gives other digits with another buffer size (the kernel's row sums must not go that way)
    x = np.random.default_rng(5).standard_normal((300, 1000)).astype(dtype)
    coef = np.linspace(0.5, 2, 300).astype(dtype)
    with_buffer = softmax_rows(x, coef, any_shift=True), softmax_rows(x, coef)
    monkeypatch.setattr(kernels._RowBuffer, "__init__", lambda self, C: setattr(self, "size", None))
    without = softmax_rows(x, coef, any_shift=True), softmax_rows(x, coef)
    for got, expected in zip(with_buffer, without):
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_the_one_block_path_without_hooks_runs_with_the_buffer_too(monkeypatch):
    seen, real = [], kernels._softmax_block

    def spy(*args, **options):
        seen.append(np.getbufsize())
        return real(*args, **options)

    monkeypatch.setattr(kernels, "_softmax_block", spy)
    x = np.random.default_rng(6).standard_normal((128, 1000), dtype=np.float32)  # 512 KB: one block, no hooks
    softmax_rows(x, np.float32(1 / 128), any_shift=True)
    assert seen == [992] and np.getbufsize() == 8192


def test_k_dimensional_logits_keep_numpys_default_buffer():
    seen, _ = _buffer_sizes_seen((8, 1000, 5))  # classes on axis 1: no row of classes lies in memory in a row
    assert seen and set(seen) == {8192}
