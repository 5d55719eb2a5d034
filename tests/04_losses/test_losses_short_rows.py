"""Rows of at most 32 classes, which the kernel does class by class on a transposed copy of each block: the same
numbers as the row by row way, in one block or many, on one thread or more, with every option of cross entropy."""
import numpy as np
import pytest

from tinytorch.core.kernels import _SHORT, softmax_rows
from tinytorch.core.losses import CrossEntropyLoss, cross_entropy

SHAPES = [(16, 10), (64, 10), (1024, 10), (300, 32), (40_000, 10)]  # one small block ... several, threaded


def _reference_rows(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=1)
    e = np.exp(x - m[:, None])
    return m, e.sum(axis=1), e / e.sum(axis=1, keepdims=True)


def _reference_cross_entropy(x, t, weight=None, label_smoothing=0.0, ignore_index=-100):
    """Mean cross entropy and its gradient for rows x (R, C) of class indices, in float64, via a one-hot."""
    x = np.asarray(x, dtype=np.float64)
    C = x.shape[1]
    keep = t != ignore_index
    t = np.where(keep, t, 0)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    q = ((1 - label_smoothing) * np.eye(C)[t] + label_smoothing / C) * w * keep[:, None]
    m, s, p = _reference_rows(x)
    log_p = x - m[:, None] - np.log(s)[:, None]
    total = (w[t] * keep).sum()
    return -(q * log_p).sum() / total, (q.sum(axis=1, keepdims=True) * p - q) / total


def test_short_means_at_most_32_classes():
    assert _SHORT == 32


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_rows_give_the_row_by_row_numbers(shape, dtype):
    x = (np.random.default_rng(0).normal(size=shape) * 4).astype(dtype)
    coef = np.random.default_rng(1).uniform(0.5, 2.0, shape[0]).astype(dtype)
    m, s, e = softmax_rows(x, coef, block_bytes=2**16)
    rm, rs, rp = _reference_rows(x)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_array_equal(m, rm.astype(dtype))
    np.testing.assert_allclose(s, rs, rtol=tol)
    np.testing.assert_allclose(e, rp * coef[:, None], rtol=tol, atol=tol * 1e-3)
    assert e.shape == shape and e.dtype == dtype and e.flags.f_contiguous  # class by class: Fortran order
    m2, s2, none = softmax_rows(x, None, block_bytes=2**16)  # forward only: nothing of x's size kept
    assert none is None and np.array_equal(m2, m) and np.allclose(s2, s, rtol=tol)


def test_short_rows_of_float16_are_summed_in_float32():
    x = np.random.default_rng(2).normal(size=(4096, 8)).astype(np.float16)
    m, s, e = softmax_rows(x, np.ones(4096, np.float16), block_bytes=2**12)
    assert s.dtype == np.float32 and e.dtype == np.float16
    np.testing.assert_allclose(s, _reference_rows(x)[1], rtol=2e-3)


def test_each_block_of_short_rows_sees_its_rows_once_with_their_own_maxima_and_sums():
    x = np.random.default_rng(3).normal(size=(50_000, 12)).astype(np.float32)  # 2.4 MB: shared among threads
    seen = np.zeros(len(x), int)

    def each_block(rows, rows_of, m, s, e):
        block = rows_of(x)
        assert e.shape == block.shape
        np.testing.assert_array_equal(m, block.max(axis=1))
        np.testing.assert_allclose(s, np.exp(block - m[:, None]).sum(axis=1), rtol=1e-5)
        seen[rows] += 1

    softmax_rows(x, np.ones(len(x), np.float32), each_block, block_bytes=2**17)
    assert np.all(seen == 1)


def test_a_short_row_of_nan_or_inf_takes_the_careful_path():
    x = np.zeros((64, 10), np.float32)
    x[0, 0], x[1, 0] = np.nan, np.inf
    with np.errstate(invalid="ignore"):
        m, s, e = softmax_rows(x, np.ones(64, np.float32))
    assert np.isnan(m[0]) and np.isinf(m[1]) and np.all(np.isnan(e[:2]) | (e[:2] == 0))
    np.testing.assert_allclose(e[2:], 0.1, rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("options", [
    pytest.param({}, id="plain", marks=pytest.mark.task("04.3")),
    pytest.param({"weight": True}, id="weights", marks=pytest.mark.task("04.3", "04.4")),
    pytest.param({"ignore_index": 3}, id="ignored", marks=pytest.mark.task("04.3", "04.4")),
    pytest.param({"label_smoothing": 0.2}, id="smoothing", marks=pytest.mark.task("04.3", "04.5")),
    pytest.param({"weight": True, "label_smoothing": 0.1, "ignore_index": 3}, id="everything",
                 marks=pytest.mark.task("04.3", "04.4", "04.5")),
])
def test_cross_entropy_of_short_rows_with_every_option_matches_the_reference(shape, options):
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape) * 3
    t = rng.integers(0, shape[1], shape[0])
    options = dict(options)
    if options.pop("weight", False):
        options["weight"] = rng.uniform(0.5, 2.0, shape[1])
    criterion = CrossEntropyLoss(**options)
    loss = criterion(x, t).item()
    grad = criterion.backward().data
    want_loss, want_grad = _reference_cross_entropy(x, t, **options)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.task("04.6")
def test_probability_targets_of_short_rows_match_the_reference():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 7))
    p = rng.dirichlet(np.ones(7), 3000)
    criterion = CrossEntropyLoss(label_smoothing=0.1, weight=rng.uniform(0.5, 2.0, 7))
    loss = criterion(x, p).item()
    grad = criterion.backward().data
    q = (0.9 * p + 0.1 / 7) * criterion.weight
    log_p = x - x.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -(q * log_p).sum() / 3000, rtol=1e-12)
    np.testing.assert_allclose(grad, (q.sum(axis=1, keepdims=True) * np.exp(log_p) - q) / 3000, rtol=1e-10, atol=1e-15)


@pytest.mark.task("04.3")
def test_reduction_none_of_short_rows_takes_one_grad_output_per_row():
    rng = np.random.default_rng(6)
    x, t = rng.normal(size=(2000, 5)), rng.integers(0, 5, 2000)
    g = rng.normal(size=2000)
    criterion = CrossEntropyLoss(reduction="none")
    losses = criterion(x, t).data
    grad = criterion.backward(g).data
    _, p = _reference_rows(x)[1:]
    np.testing.assert_allclose(losses, -np.log(p[np.arange(2000), t]), rtol=1e-12)
    np.testing.assert_allclose(grad, g[:, None] * (p - np.eye(5)[t]), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(cross_entropy(x, t).item(), losses.mean(), rtol=1e-12)
