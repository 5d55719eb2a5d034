"""Properties that hold for every input, checked with hypothesis on random small cases."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
)

SETTINGS = settings(max_examples=50, deadline=None)

_logit = st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False)
_prob = st.floats(0.01, 0.99, allow_nan=False)
_unit = st.floats(0.0, 1.0, allow_nan=False)
_positive = st.floats(0.1, 5.0, allow_nan=False)


def _np(out):
    return np.asarray(out.data, dtype=np.float64)


@st.composite
def _classification(draw, min_classes=2):
    """(N, C) float64 logits, int64 targets in [0, C), and a positive class weight of length C."""
    n = draw(st.integers(1, 6))
    c = draw(st.integers(min_classes, 6))
    logits = draw(arrays(np.float64, (n, c), elements=_logit))
    target = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    weight = draw(arrays(np.float64, (c,), elements=_positive))
    return logits, target, weight


@st.composite
def _same_shape_pair(draw, first, second):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    return draw(arrays(np.float64, shape, elements=first)), draw(arrays(np.float64, shape, elements=second))


# ---------------------------------------------------------------- log_softmax


@pytest.mark.task("04.2")
@SETTINGS
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=_logit),
    shift=st.floats(-1e3, 1e3, allow_nan=False),
)
def test_log_softmax_is_shift_invariant(x, shift):
    np.testing.assert_allclose(_np(log_softmax(x + shift)), _np(log_softmax(x)), rtol=1e-9, atol=1e-9)


@pytest.mark.task("04.2")
@SETTINGS
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)), elements=_logit),
    dim=st.sampled_from([0, 1, 2, -1]),
)
def test_log_softmax_exponentiates_to_a_distribution_along_dim(x, dim):
    out = _np(log_softmax(x, dim=dim))
    assert out.shape == x.shape
    assert np.all(out <= 0.0)
    np.testing.assert_allclose(np.exp(out).sum(axis=dim), 1.0, rtol=1e-12)


# ---------------------------------------------------------------- cross entropy


@pytest.mark.task("04.3", "04.4", "04.5")
@SETTINGS
@given(case=_classification(), smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]), weighted=st.booleans())
def test_cross_entropy_is_non_negative(case, smoothing, weighted):
    logits, target, weight = case
    kwargs = dict(label_smoothing=smoothing, weight=weight if weighted else None)
    assert np.all(_np(cross_entropy(logits, target, reduction="none", **kwargs)) >= 0.0)
    assert float(_np(cross_entropy(logits, target, **kwargs))) >= 0.0


@pytest.mark.task("04.2", "04.3")
@SETTINGS
@given(case=_classification())
def test_cross_entropy_equals_negative_log_softmax_at_the_target(case):
    logits, target, _ = case
    picked = _np(log_softmax(logits))[np.arange(len(target)), target]
    np.testing.assert_allclose(_np(cross_entropy(logits, target, reduction="none")), -picked, rtol=1e-12, atol=1e-12)


@pytest.mark.task("04.3", "04.4", "04.5")
@SETTINGS
@given(
    case=_classification(),
    smoothing=st.sampled_from([0.0, 0.2]),
    weighted=st.booleans(),
    ignored=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_cross_entropy_sum_and_mean_agree_with_none(case, smoothing, weighted, ignored):
    logits, target, weight = case
    target = target.copy()
    mask = np.array(ignored[: len(target)])
    if mask.all():
        mask[0] = False  # keep at least one target so that the mean is defined
    target[mask] = -100
    kwargs = dict(label_smoothing=smoothing, weight=weight if weighted else None)
    none = _np(cross_entropy(logits, target, reduction="none", **kwargs))
    assert none.shape == target.shape
    assert np.all(none[mask] == 0.0)
    w = weight if weighted else np.ones(logits.shape[1])
    denominator = w[target[~mask]].sum()
    np.testing.assert_allclose(_np(cross_entropy(logits, target, reduction="sum", **kwargs)), none.sum(), rtol=1e-12)
    np.testing.assert_allclose(_np(cross_entropy(logits, target, **kwargs)), none.sum() / denominator, rtol=1e-12)


@pytest.mark.task("04.3", "04.4", "04.5", "04.6")
@SETTINGS
@given(case=_classification(), smoothing=st.sampled_from([0.0, 0.1, 0.4]))
def test_one_hot_probability_targets_equal_index_targets(case, smoothing):
    logits, target, weight = case
    one_hot = np.eye(logits.shape[1])[target]
    for kwargs in (dict(), dict(weight=weight)):
        by_index = _np(cross_entropy(logits, target, reduction="none", label_smoothing=smoothing, **kwargs))
        by_probs = _np(cross_entropy(logits, one_hot, reduction="none", label_smoothing=smoothing, **kwargs))
        np.testing.assert_allclose(by_probs, by_index, rtol=1e-10, atol=1e-12)
    # without weights both means divide by the number of rows
    np.testing.assert_allclose(
        _np(cross_entropy(logits, one_hot, label_smoothing=smoothing)),
        _np(cross_entropy(logits, target, label_smoothing=smoothing)),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.task("04.6")
@SETTINGS
@given(case=_classification(), data=st.data())
def test_probability_target_mean_divides_by_number_of_rows(case, data):
    logits, _, weight = case
    probs = data.draw(arrays(np.float64, logits.shape, elements=_positive))
    probs /= probs.sum(axis=1, keepdims=True)
    none = _np(cross_entropy(logits, probs, weight=weight, label_smoothing=0.1, reduction="none"))
    assert none.shape == (logits.shape[0],)
    total = _np(cross_entropy(logits, probs, weight=weight, label_smoothing=0.1, reduction="sum"))
    mean = _np(cross_entropy(logits, probs, weight=weight, label_smoothing=0.1))
    np.testing.assert_allclose(total, none.sum(), rtol=1e-12)
    np.testing.assert_allclose(mean, none.sum() / logits.shape[0], rtol=1e-12)


# ---------------------------------------------------------------- MSE


@pytest.mark.task("04.1")
@SETTINGS
@given(x=arrays(np.float64, st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), elements=_logit))
def test_mse_of_input_with_itself_is_zero(x):
    assert float(_np(mse_loss(x, x.copy()))) == 0.0
    assert np.all(_np(mse_loss(x, x.copy(), reduction="none")) == 0.0)


@pytest.mark.task("04.1")
@SETTINGS
@given(pair=_same_shape_pair(_logit, _logit))
def test_mse_sum_and_mean_agree_with_none(pair):
    x, y = pair
    none = _np(mse_loss(x, y, reduction="none"))
    assert none.shape == x.shape
    assert np.all(none >= 0.0)
    np.testing.assert_allclose(_np(mse_loss(x, y, reduction="sum")), none.sum(), rtol=1e-12)
    np.testing.assert_allclose(_np(mse_loss(x, y)), none.sum() / x.size, rtol=1e-12)


@pytest.mark.task("04.1")
@SETTINGS
@given(pair=_same_shape_pair(_logit, _logit))
def test_mse_is_symmetric(pair):
    x, y = pair
    np.testing.assert_array_equal(_np(mse_loss(x, y, reduction="none")), _np(mse_loss(y, x, reduction="none")))


# ---------------------------------------------------------------- BCE and BCE with logits


@pytest.mark.task("04.7")
@SETTINGS
@given(pair=_same_shape_pair(_prob, _unit), weighted=st.booleans())
def test_bce_sum_and_mean_agree_with_none(pair, weighted):
    p, y = pair
    weight = np.linspace(0.5, 2.0, p.shape[-1]) if weighted else None
    none = _np(binary_cross_entropy(p, y, weight=weight, reduction="none"))
    assert none.shape == p.shape
    assert np.all(none >= 0.0)
    np.testing.assert_allclose(_np(binary_cross_entropy(p, y, weight=weight, reduction="sum")), none.sum(), rtol=1e-12)
    np.testing.assert_allclose(_np(binary_cross_entropy(p, y, weight=weight)), none.sum() / p.size, rtol=1e-12)


@pytest.mark.task("04.7", "04.8")
@SETTINGS
@given(pair=_same_shape_pair(_logit, _unit))
def test_bce_with_logits_equals_bce_of_sigmoid(pair):
    x, y = pair
    x = np.clip(x, -10.0, 10.0)  # keep sigmoid(x) away from 0 and 1 so both are exact
    p = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(
        _np(binary_cross_entropy_with_logits(x, y, reduction="none")),
        _np(binary_cross_entropy(p, y, reduction="none")),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.task("04.8")
@SETTINGS
@given(pair=_same_shape_pair(_logit, _unit), pos_weight=_positive, weighted=st.booleans())
def test_bce_with_logits_sum_and_mean_agree_with_none(pair, pos_weight, weighted):
    x, y = pair
    weight = np.linspace(0.5, 2.0, x.shape[-1]) if weighted else None
    kwargs = dict(weight=weight, pos_weight=np.full(x.shape[-1], pos_weight))
    none = _np(binary_cross_entropy_with_logits(x, y, reduction="none", **kwargs))
    assert none.shape == x.shape
    assert np.all(none >= -1e-12)  # zero analytically at best; (1-y)x + c*softplus(-x) may round just below
    total = _np(binary_cross_entropy_with_logits(x, y, reduction="sum", **kwargs))
    np.testing.assert_allclose(total, none.sum(), rtol=1e-12)
    np.testing.assert_allclose(_np(binary_cross_entropy_with_logits(x, y, **kwargs)), none.sum() / x.size, rtol=1e-12)
