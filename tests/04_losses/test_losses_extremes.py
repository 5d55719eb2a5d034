"""Extreme values: huge logits, probabilities exactly 0 and 1, float32 — each with a test of its own."""
import math

import numpy as np
import pytest

from tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
)

_dtypes = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


@pytest.mark.task("04.3")
@_dtypes
def test_cross_entropy_of_logits_plus_minus_1e4_is_finite_and_exact(dtype):
    x = np.array([[1e4, -1e4], [1e4, -1e4], [1e4, 1e4]], dtype=dtype)
    t = np.array([1, 0, 0])
    none = cross_entropy(x, t, reduction="none").data
    assert none.dtype == dtype
    # lse = 1e4 exactly in floating point, so the losses are 1e4 - x_t
    np.testing.assert_allclose(none, [2e4, 0.0, math.log(2)], rtol=1e-6, atol=1e-6)


@pytest.mark.task("04.3")
@_dtypes
def test_cross_entropy_gradient_at_logits_plus_minus_1e4_is_finite(dtype):
    loss = CrossEntropyLoss(reduction="sum")
    loss(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype), np.array([1, 2]))
    grad = loss.backward().data
    assert grad.dtype == dtype
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0], [0.0, 0.5, -0.5]], atol=1e-6)


@pytest.mark.task("04.3", "04.5")
@_dtypes
def test_label_smoothing_at_logits_plus_minus_1e4_is_finite(dtype):
    # target 0 costs 0; the uniform part costs (0 + 2e4) / 2; mixed with eps = 0.1: 0.1 * 1e4
    out = float(cross_entropy(np.array([[1e4, -1e4]], dtype=dtype), np.array([0]), label_smoothing=0.1).data)
    assert out == pytest.approx(1e3, rel=1e-6)


@pytest.mark.task("04.2")
def test_log_softmax_of_3e38_in_float32_is_finite():
    out = log_softmax(np.array([[3e38, 0.0], [3e38, 3e38], [-3e38, 0.0]], dtype=np.float32)).data
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    expected = np.array([[0.0, -3e38], [-math.log(2), -math.log(2)], [-3e38, 0.0]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.task("04.2")
def test_log_softmax_of_1e308_in_float64_is_finite():
    out = log_softmax(np.array([1e308, 1e308, 0.0])).data
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [-math.log(2), -math.log(2), -1e308], rtol=1e-12)


@pytest.mark.task("04.7")
@_dtypes
def test_bce_at_probability_zero_or_one_with_wrong_label_costs_exactly_100(dtype):
    p = np.array([0.0, 1.0], dtype=dtype)
    y = np.array([1.0, 0.0], dtype=dtype)
    none = binary_cross_entropy(p, y, reduction="none").data
    assert none.dtype == dtype
    np.testing.assert_array_equal(none, [100.0, 100.0])
    assert float(binary_cross_entropy(p, y).data) == 100.0
    assert float(binary_cross_entropy(p, y, reduction="sum").data) == 200.0


@pytest.mark.task("04.7")
@_dtypes
def test_bce_at_probability_zero_or_one_with_right_label_costs_zero(dtype):
    none = binary_cross_entropy(np.array([0.0, 1.0], dtype=dtype), np.array([0.0, 1.0], dtype=dtype), reduction="none")
    np.testing.assert_array_equal(none.data, [0.0, 0.0])


@pytest.mark.task("04.7")
@_dtypes
def test_bce_gradient_at_probability_zero_or_one_is_finite(dtype):
    loss = BinaryCrossEntropyLoss(reduction="sum")
    loss(np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype), np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype))
    grad = loss.backward().data
    assert grad.dtype == dtype
    assert np.all(np.isfinite(grad))
    # (p - y) / max(p (1 - p), 1e-12)
    np.testing.assert_allclose(grad, [-1e12, 1e12, 0.0, 0.0], rtol=1e-6)


@pytest.mark.task("04.8")
@_dtypes
def test_bce_with_logits_at_plus_minus_100_is_finite(dtype):
    x = np.array([100.0, -100.0, 100.0, -100.0], dtype=dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    none = binary_cross_entropy_with_logits(x, y, reduction="none").data
    assert none.dtype == dtype
    np.testing.assert_allclose(none, [100.0, 100.0, 0.0, 0.0], rtol=1e-6, atol=1e-6)
    loss = BinaryCrossEntropyWithLogitsLoss(reduction="sum")
    loss(x, y)
    grad = loss.backward().data
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [1.0, -1.0, 0.0, 0.0], atol=1e-6)


@pytest.mark.task("04.8")
@_dtypes
def test_bce_with_logits_at_plus_minus_1e4_is_finite(dtype):
    x = np.array([1e4, -1e4], dtype=dtype)
    y = np.array([0.0, 1.0], dtype=dtype)
    none = binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=np.array([2.0, 2.0])).data
    np.testing.assert_allclose(none, [1e4, 2e4], rtol=1e-6)
