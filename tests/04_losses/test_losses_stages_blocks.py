"""The kernel's blocks of whole K-dimensional samples, the stages applied to them, label smoothing's shortcut without
the subtraction, one number as coef, and the small row sums: each against a plain float64 reference."""
import numpy as np
import pytest

from tinytorch.core.kernels import _row_sums, softmax_rows
from tinytorch.core.losses import CrossEntropyLoss


def _reference(x, t, weight=None, label_smoothing=0.0, ignore_index=-100, probabilities=False):
    """Mean cross entropy and its gradient for logits (N, C, ...) in float64, the plain way."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1)
    C = x.shape[-1]
    rows = x.reshape(-1, C)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    if probabilities:
        p = np.moveaxis(np.asarray(t, dtype=np.float64), 1, -1).reshape(-1, C)
        q, total = ((1 - label_smoothing) * p + label_smoothing / C) * w, len(rows)
    else:
        t = np.asarray(t).reshape(-1)
        keep = t != ignore_index
        t = np.where(keep, t, 0)
        q = ((1 - label_smoothing) * np.eye(C)[t] + label_smoothing / C) * w * keep[:, None]
        total = (w[t] * keep).sum()
    m = rows.max(axis=1, keepdims=True)
    log_p = rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))
    grad = (q.sum(axis=1, keepdims=True) * np.exp(log_p) - q) / total
    return -(q * log_p).sum() / total, np.moveaxis(grad.reshape(x.shape), -1, 1)


def _check(x, t, rtol=1e-10, **options):
    probabilities = options.pop("probabilities", False)
    loss = CrossEntropyLoss(**options)
    value = loss(x, t).item()
    grad = loss.backward().data
    want_value, want_grad = _reference(x, t, probabilities=probabilities, **options)
    np.testing.assert_allclose(value, want_value, rtol=rtol)
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=rtol * 1e-5)
    assert grad.shape == np.shape(x) and grad.flags.c_contiguous


SHAPES = [pytest.param((12, 21, 48, 48), id="whole samples, several per block, threads"),
          pytest.param((2, 21, 128, 200), id="samples larger than a block")]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("options", [
    pytest.param({}, id="plain"),  # K-dim: the given code picks the target column (no stage-1 task)
    pytest.param({"weight": True, "ignore_index": 2}, id="weights, ignored", marks=pytest.mark.task("04.4")),
    pytest.param({"label_smoothing": 0.2, "ignore_index": 2}, id="smoothing, ignored",
                 marks=pytest.mark.task("04.4", "04.5")),
    pytest.param({"weight": True, "label_smoothing": 0.1}, id="weighted smoothing", marks=pytest.mark.task("04.4", "04.5")),
    pytest.param({"weight": True, "label_smoothing": 0.1, "ignore_index": 2}, id="everything",
                 marks=pytest.mark.task("04.4", "04.5")),
])
def test_k_dimensional_blocks_with_every_option_match_the_reference(shape, options):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32) * 3
    t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    options = dict(options)
    if options.pop("weight", False):
        options["weight"] = rng.uniform(0.5, 2.0, shape[1])
    _check(x, t, rtol=2e-5, **options)


@pytest.mark.task("04.6")
@pytest.mark.parametrize("shape", [(6, 7, 40, 40), (2, 5, 300, 400)], ids=["whole samples", "split samples"])
def test_k_dimensional_probability_targets_on_blocks_match_the_reference(shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    p = np.moveaxis(rng.dirichlet(np.ones(shape[1]), size=shape[:1] + shape[2:]), -1, 1)
    _check(x, p, weight=rng.uniform(0.5, 2.0, shape[1]), label_smoothing=0.1, probabilities=True)


def test_k_dimensional_logits_that_are_not_contiguous_give_the_same_numbers():
    rng = np.random.default_rng(2)
    big = rng.normal(size=(8, 21, 32, 64))
    x = big[::2, :, :, ::2]  # a strided view: reshaped, it is copied; the targets are still picked right
    t = rng.integers(0, 21, size=(4, 32, 32))
    _check(x, t)


@pytest.mark.task("04.3", "04.5")
@pytest.mark.parametrize("offset", [0.0, 10.0, 40.0], ids=["shortcut", "shortcut at the edge", "subtraction"])
def test_label_smoothing_with_or_without_the_subtraction_matches_the_reference(offset):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(64, 2048)) + offset).astype(np.float32)  # blocks of more than 16,384 numbers
    t = rng.integers(0, 2048, 64)
    loss = CrossEntropyLoss(label_smoothing=0.1, reduction="none")
    values = loss(x, t).data
    want, _ = _reference(x, t, label_smoothing=0.1)
    rows = x.astype(np.float64)
    log_p = rows - rows.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    q = 0.9 * np.eye(2048)[t] + 0.1 / 2048
    np.testing.assert_allclose(values, -(q * log_p).sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values.mean(), want, rtol=1e-5)


@pytest.mark.parametrize("shape", [(40, 30000), (8, 21, 4096)], ids=["rows", "k-dim"])
def test_one_number_as_coef_is_the_same_as_that_number_in_every_row(shape):
    x = np.random.default_rng(4).normal(size=shape)
    rows = shape[0] * (shape[2] if len(shape) == 3 else 1)
    m1, s1, e1 = softmax_rows(x, 0.25, block_bytes=2**16)
    m2, s2, e2 = softmax_rows(x, np.full(rows, 0.25), block_bytes=2**16)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(e1, e2)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 7), (50, 100), (200, 100)], ids=["few", "below 9216", "above"])
def test_row_sums_are_the_rows_sums_in_every_way_they_are_taken(dtype, shape):
    e = np.random.default_rng(5).uniform(0, 1, shape).astype(dtype)
    acc = np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)
    got = _row_sums(e, acc)
    assert got.dtype == acc
    np.testing.assert_allclose(got, e.astype(np.float64).sum(axis=1), rtol=1e-3 if dtype == np.float16 else 1e-6)
    out = np.empty(shape[0], acc)
    assert _row_sums(e, acc, out) is out
    np.testing.assert_array_equal(out, got)
