"""Hand-computed values: small cases whose answers follow directly from the formulas in the spec.

The expected numbers are written out by hand or come from the slow, obvious NumPy formula next to
each test; none is copied from the implementation's own output.
"""
import math

import numpy as np
import pytest

from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
)
from tinytorch.core.tensor import Tensor


def _value(out):
    assert isinstance(out, Tensor), f"expected a tinytorch Tensor, got {type(out).__name__}"
    return np.asarray(out.data)


def _log_softmax_ref(x, dim=-1):
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def _ce_rows_ref(x, target, weight=None, ignore_index=-100, label_smoothing=0.0):
    """Per-row losses of (N, C) logits and index targets, and the 'mean' denominator, row by row."""
    x = np.asarray(x, dtype=np.float64)
    n_rows, n_classes = x.shape
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    logp = _log_softmax_ref(x)
    losses, denominator = np.zeros(n_rows), 0.0
    for n, t in enumerate(target):
        if t == ignore_index:
            continue
        nll = -w[t] * logp[n, t]
        uniform = -(w * logp[n]).sum()
        losses[n] = (1 - label_smoothing) * nll + label_smoothing / n_classes * uniform
        denominator += w[t]
    return losses, denominator


# ---------------------------------------------------------------- log_softmax


@pytest.mark.task("04.2")
def test_log_softmax_of_equal_logits_is_minus_log_num_classes():
    out = _value(log_softmax(np.zeros((2, 4))))
    np.testing.assert_allclose(out, np.full((2, 4), -math.log(4)), rtol=1e-12)


@pytest.mark.task("04.2")
def test_log_softmax_matches_hand_formula():
    x = [1.0, 2.0, 3.0]
    lse = math.log(math.e + math.e**2 + math.e**3)
    np.testing.assert_allclose(_value(log_softmax(np.array(x))), [1 - lse, 2 - lse, 3 - lse], rtol=1e-12)


@pytest.mark.task("04.2")
def test_log_softmax_dim_zero_normalises_columns():
    x = np.array([[0.0, 1.0, 5.0], [0.0, 3.0, -2.0]])
    out = _value(log_softmax(x, dim=0))
    np.testing.assert_allclose(out, _log_softmax_ref(x, dim=0), rtol=1e-12)
    np.testing.assert_allclose(out[:, 0], [-math.log(2), -math.log(2)], rtol=1e-12)


@pytest.mark.task("04.2")
def test_log_softmax_default_dim_is_last_axis():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7.0
    np.testing.assert_allclose(_value(log_softmax(x)), _log_softmax_ref(x, dim=-1), rtol=1e-12)
    np.testing.assert_allclose(_value(log_softmax(x, dim=1)), _log_softmax_ref(x, dim=1), rtol=1e-12)


# ---------------------------------------------------------------- cross entropy, index targets


@pytest.mark.task("04.3")
def test_cross_entropy_of_two_equal_logits_is_log_2():
    assert float(_value(cross_entropy(np.array([[0.0, 0.0]]), np.array([0])))) == pytest.approx(math.log(2), rel=1e-12)


@pytest.mark.task("04.3")
def test_cross_entropy_of_equal_logits_is_log_num_classes_whatever_the_target():
    out = _value(cross_entropy(np.zeros((3, 5)), np.array([0, 4, 2]), reduction="none"))
    np.testing.assert_allclose(out, np.full(3, math.log(5)), rtol=1e-12)


@pytest.mark.task("04.3")
def test_cross_entropy_matches_hand_formula_for_each_reduction():
    x = np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0]])
    t = np.array([2, 0])
    row0 = math.log(math.e + math.e**2 + math.e**3) - 3.0
    row1 = math.log(math.e + math.exp(-1) + 1.0) - 1.0
    np.testing.assert_allclose(_value(cross_entropy(x, t, reduction="none")), [row0, row1], rtol=1e-12)
    assert float(_value(cross_entropy(x, t, reduction="sum"))) == pytest.approx(row0 + row1, rel=1e-12)
    assert float(_value(cross_entropy(x, t))) == pytest.approx((row0 + row1) / 2, rel=1e-12)


@pytest.mark.task("04.3", "04.4")
def test_cross_entropy_weighted_mean_divides_by_sum_of_target_weights():
    x = np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0]])
    t = np.array([2, 0])
    w = np.array([1.0, 2.0, 3.0])
    row0 = math.log(math.e + math.e**2 + math.e**3) - 3.0
    row1 = math.log(math.e + math.exp(-1) + 1.0) - 1.0
    none = _value(cross_entropy(x, t, weight=w, reduction="none"))
    np.testing.assert_allclose(none, [3 * row0, 1 * row1], rtol=1e-12)
    mean = float(_value(cross_entropy(x, t, weight=w)))
    assert mean == pytest.approx((3 * row0 + row1) / (3 + 1), rel=1e-12)


@pytest.mark.task("04.3", "04.4")
def test_ignored_targets_cost_zero_and_are_not_counted_in_the_mean():
    x = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    t = np.array([1, -100, 2])
    np.testing.assert_allclose(
        _value(cross_entropy(x, t, reduction="none")), [math.log(3), 0.0, math.log(3)], rtol=1e-12, atol=0
    )
    assert float(_value(cross_entropy(x, t))) == pytest.approx(math.log(3), rel=1e-12)


@pytest.mark.task("04.3", "04.4")
def test_custom_ignore_index_skips_that_class():
    x = np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0], [0.5, 0.0, -0.5]])
    t = np.array([2, 1, 0])
    w = np.array([2.0, 1.0, 0.5])
    rows, denominator = _ce_rows_ref(x, t, weight=w, ignore_index=1)
    assert rows[1] == 0.0 and denominator == pytest.approx(0.5 + 2.0)
    np.testing.assert_allclose(_value(cross_entropy(x, t, weight=w, ignore_index=1, reduction="none")), rows, rtol=1e-12)
    assert float(_value(cross_entropy(x, t, weight=w, ignore_index=1))) == pytest.approx(rows.sum() / denominator, rel=1e-12)


@pytest.mark.task("04.3", "04.5")
def test_full_label_smoothing_is_mean_negative_log_probability():
    x = np.array([[1.0, 2.0, 3.0]])
    lse = math.log(math.e + math.e**2 + math.e**3)
    expected = lse - 2.0  # mean over classes of (lse - x_c)
    assert float(_value(cross_entropy(x, np.array([0]), label_smoothing=1.0))) == pytest.approx(expected, rel=1e-12)


@pytest.mark.task("04.3", "04.5")
def test_label_smoothing_mixes_in_uniform_distribution():
    x = np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0]])
    t = np.array([2, 0])
    eps = 0.1
    lse0 = math.log(math.e + math.e**2 + math.e**3)
    lse1 = math.log(math.e + math.exp(-1) + 1.0)
    row0 = (1 - eps) * (lse0 - 3.0) + eps * (lse0 - 2.0)
    row1 = (1 - eps) * (lse1 - 1.0) + eps * (lse1 - 0.0)
    np.testing.assert_allclose(
        _value(cross_entropy(x, t, label_smoothing=eps, reduction="none")), [row0, row1], rtol=1e-12
    )


@pytest.mark.task("04.3", "04.4", "04.5")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_with_weight_and_ignore_index_matches_formula(reduction):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4))
    t = np.array([3, -100, 0, 1, 3])
    w = np.array([0.5, 2.0, 1.0, 1.5])
    rows, denominator = _ce_rows_ref(x, t, weight=w, label_smoothing=0.3)
    expected = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / denominator}[reduction]
    out = _value(cross_entropy(x, t, weight=w, label_smoothing=0.3, reduction=reduction))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.task("04.3")
def test_unbatched_cross_entropy_is_a_scalar():
    x = np.array([1.0, 2.0, 3.0])
    lse = math.log(math.e + math.e**2 + math.e**3)
    for reduction in ("mean", "sum", "none"):
        out = _value(cross_entropy(x, np.array(1), reduction=reduction))
        assert out.shape == ()
        assert float(out) == pytest.approx(lse - 2.0, rel=1e-12)


@pytest.mark.task("04.4")
def test_k_dimensional_cross_entropy_moves_classes_last_and_flattens():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 5))  # (N, C, d1, d2)
    t = rng.integers(0, 3, size=(2, 4, 5))
    t[0, 1, 2] = -100
    w = np.array([1.0, 0.5, 2.0])
    rows, denominator = _ce_rows_ref(np.moveaxis(x, 1, -1).reshape(-1, 3), t.reshape(-1), weight=w)
    none = _value(cross_entropy(x, t, weight=w, reduction="none"))
    assert none.shape == (2, 4, 5)
    np.testing.assert_allclose(none, rows.reshape(2, 4, 5), rtol=1e-12)
    assert float(_value(cross_entropy(x, t, weight=w))) == pytest.approx(rows.sum() / denominator, rel=1e-12)


# ---------------------------------------------------------------- cross entropy, probability targets


@pytest.mark.task("04.6")
def test_probability_targets_give_the_expected_negative_log_likelihood():
    x = np.array([[0.0, 0.0], [2.0, 0.0]])
    p = np.array([[0.25, 0.75], [0.5, 0.5]])
    row1 = 0.5 * (math.log(1 + math.exp(2)) - 2.0) + 0.5 * math.log(1 + math.exp(2))
    np.testing.assert_allclose(_value(cross_entropy(x, p, reduction="none")), [math.log(2), row1], rtol=1e-12)
    assert float(_value(cross_entropy(x, p))) == pytest.approx((math.log(2) + row1) / 2, rel=1e-12)


@pytest.mark.task("04.6")
def test_probability_targets_with_smoothing_and_weight_match_formula():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3))
    p = rng.random((4, 3))
    p /= p.sum(axis=1, keepdims=True)
    w = np.array([0.2, 1.0, 3.0])
    eps = 0.3
    q = (1 - eps) * p + eps / 3
    rows = -(w * q * _log_softmax_ref(x)).sum(axis=1)
    kwargs = dict(weight=w, label_smoothing=eps)
    np.testing.assert_allclose(_value(cross_entropy(x, p, reduction="none", **kwargs)), rows, rtol=1e-12)
    assert float(_value(cross_entropy(x, p, reduction="sum", **kwargs))) == pytest.approx(rows.sum(), rel=1e-12)
    # 'mean' with probability targets divides by the number of rows, not by the weights
    assert float(_value(cross_entropy(x, p, **kwargs))) == pytest.approx(rows.sum() / 4, rel=1e-12)


@pytest.mark.task("04.6")
def test_k_dimensional_probability_targets_mean_divides_by_number_of_positions():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4))  # (N, C, d1)
    p = rng.random((2, 3, 4))
    p /= p.sum(axis=1, keepdims=True)
    rows = -(p * _log_softmax_ref(x, dim=1)).sum(axis=1)
    np.testing.assert_allclose(_value(cross_entropy(x, p, reduction="none")), rows, rtol=1e-12)
    assert float(_value(cross_entropy(x, p))) == pytest.approx(rows.sum() / 8, rel=1e-12)


# ---------------------------------------------------------------- MSE


@pytest.mark.task("04.1")
def test_mse_matches_hand_computation():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 0.0, 5.0])  # squared errors 0, 4, 4
    np.testing.assert_array_equal(_value(mse_loss(x, y, reduction="none")), [0.0, 4.0, 4.0])
    assert float(_value(mse_loss(x, y, reduction="sum"))) == 8.0
    assert float(_value(mse_loss(x, y))) == pytest.approx(8.0 / 3.0, rel=1e-15)


@pytest.mark.task("04.1")
def test_mse_mean_divides_by_element_count_of_any_shape():
    x = np.zeros((2, 3, 2))
    y = np.ones((2, 3, 2))
    assert float(_value(mse_loss(x, y))) == 1.0
    assert float(_value(mse_loss(x, y, reduction="sum"))) == 12.0


# ---------------------------------------------------------------- binary cross entropy


@pytest.mark.task("04.7")
def test_bce_at_one_half_is_log_2():
    assert float(_value(binary_cross_entropy(np.array([0.5]), np.array([1.0])))) == pytest.approx(math.log(2), rel=1e-12)
    assert float(_value(binary_cross_entropy(np.array([0.5]), np.array([0.0])))) == pytest.approx(math.log(2), rel=1e-12)


@pytest.mark.task("04.7")
def test_bce_matches_hand_formula():
    p = np.array([0.9, 0.2, 0.6])
    y = np.array([1.0, 0.0, 0.25])
    expected = [-math.log(0.9), -math.log(0.8), -(0.25 * math.log(0.6) + 0.75 * math.log(0.4))]
    np.testing.assert_allclose(_value(binary_cross_entropy(p, y, reduction="none")), expected, rtol=1e-12)
    assert float(_value(binary_cross_entropy(p, y, reduction="sum"))) == pytest.approx(sum(expected), rel=1e-12)
    assert float(_value(binary_cross_entropy(p, y))) == pytest.approx(sum(expected) / 3, rel=1e-12)


@pytest.mark.task("04.7")
def test_bce_weighted_mean_still_divides_by_element_count():
    p = np.array([[0.9, 0.2], [0.5, 0.5]])
    y = np.array([[1.0, 0.0], [1.0, 1.0]])
    w = np.array([[1.0], [3.0]])  # broadcasts over the columns
    plain = np.array([[-math.log(0.9), -math.log(0.8)], [math.log(2), math.log(2)]])
    np.testing.assert_allclose(_value(binary_cross_entropy(p, y, weight=w, reduction="none")), w * plain, rtol=1e-12)
    assert float(_value(binary_cross_entropy(p, y, weight=w))) == pytest.approx((w * plain).sum() / 4, rel=1e-12)


# ---------------------------------------------------------------- BCE with logits


@pytest.mark.task("04.8")
def test_bce_with_logits_at_zero_is_log_2():
    out = _value(binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 1.0, 0.5]), reduction="none"))
    np.testing.assert_allclose(out, np.full(3, math.log(2)), rtol=1e-12)


@pytest.mark.task("04.8")
def test_bce_with_logits_matches_softplus_formula():
    x = np.array([2.0, -1.0, 0.5])
    y = np.array([1.0, 0.0, 0.3])
    softplus = lambda z: math.log1p(math.exp(z))  # noqa: E731
    # y * softplus(-x) + (1 - y) * softplus(x)
    expected = [softplus(-2.0), softplus(-1.0), 0.3 * softplus(-0.5) + 0.7 * softplus(0.5)]
    np.testing.assert_allclose(_value(binary_cross_entropy_with_logits(x, y, reduction="none")), expected, rtol=1e-12)
    assert float(_value(binary_cross_entropy_with_logits(x, y))) == pytest.approx(sum(expected) / 3, rel=1e-12)


@pytest.mark.task("04.8")
def test_bce_with_logits_pos_weight_scales_the_positive_term():
    x = np.array([[2.0, -1.0], [0.5, 0.0]])
    y = np.array([[1.0, 1.0], [0.0, 0.4]])
    pw = np.array([3.0, 0.5])
    w = np.array([1.0, 2.0])
    softplus = lambda z: math.log1p(math.exp(z))  # noqa: E731
    expected = np.array(
        [
            [3.0 * softplus(-2.0), 0.5 * softplus(1.0)],
            [softplus(0.5), 0.4 * 0.5 * softplus(-0.0) + 0.6 * softplus(0.0)],
        ]
    )
    out = _value(binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none"))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    out = _value(binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw, reduction="sum"))
    assert float(out) == pytest.approx((w * expected).sum(), rel=1e-12)


# ---------------------------------------------------------------- hand-derived gradients


@pytest.mark.task("04.3")
def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    from tinytorch.core.losses import CrossEntropyLoss

    x = np.array([[0.0, 0.0], [0.0, math.log(3.0)]])  # softmax rows: [1/2, 1/2], [1/4, 3/4]
    loss = CrossEntropyLoss()
    loss(x, np.array([0, 1]))
    expected = np.array([[0.5 - 1.0, 0.5], [0.25, 0.75 - 1.0]]) / 2
    np.testing.assert_allclose(loss.backward().data, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.task("04.1")
def test_mse_gradient_is_two_times_error_over_n():
    from tinytorch.core.losses import MSELoss

    loss = MSELoss()
    loss(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.0, 5.0, 4.5]))
    np.testing.assert_allclose(loss.backward().data, [0.5, 0.0, -1.0, -0.25], rtol=1e-15)


@pytest.mark.task("04.7")
def test_bce_gradient_is_error_over_variance():
    from tinytorch.core.losses import BinaryCrossEntropyLoss

    loss = BinaryCrossEntropyLoss(reduction="sum")
    loss(np.array([0.5, 0.8]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(loss.backward().data, [-0.5 / 0.25, 0.8 / 0.16], rtol=1e-12)


@pytest.mark.task("04.8")
def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    from tinytorch.core.losses import BinaryCrossEntropyWithLogitsLoss

    loss = BinaryCrossEntropyWithLogitsLoss(reduction="sum")
    loss(np.array([0.0, math.log(3.0)]), np.array([1.0, 0.0]))  # sigmoid: 1/2, 3/4
    np.testing.assert_allclose(loss.backward().data, [-0.5, 0.75], rtol=1e-12)
