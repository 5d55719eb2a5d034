"""Every backward, with every option, against float64 central differences on every element."""
import numpy as np
import pytest
from tasks import marked
from gradcheck import numerical_grad, vjp_numerical

from tinytorch.core.autograd import Context
from tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    LogSoftmaxFunction,
    MSELoss,
)
from tinytorch.core.tensor import Tensor

REDUCTIONS = ["mean", "sum", "none"]


def _assert_backward_matches_central_differences(make_loss, reduction, x, target, seed=0):
    """make_loss() builds a fresh loss; compare its backward with the numerical (vector-)Jacobian product."""
    x = np.array(x, dtype=np.float64)
    loss = make_loss()
    out = loss(x.copy(), target)
    if reduction == "none":
        grad_output = np.random.default_rng(seed).normal(size=np.shape(out.data))
        analytic = loss.backward(Tensor(grad_output.copy()))
        numeric = vjp_numerical(lambda z: make_loss()(z, target).data, x, grad_output)
    else:
        assert np.shape(out.data) == ()
        analytic = loss.backward()
        numeric = numerical_grad(lambda z: float(make_loss()(z, target).data), x)
    assert isinstance(analytic, Tensor)
    assert analytic.shape == x.shape
    assert analytic.dtype == np.float64
    np.testing.assert_allclose(analytic.data, numeric, rtol=1e-5, atol=1e-7, err_msg=(
        "ACTUAL is your backward, DESIRED the central differences of your own forward: if a check of this loss's "
        "forward fails too, fix the forward first"))


# ---------------------------------------------------------------- MSE


@pytest.mark.task("04.1")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 2)])
def test_mse_backward_matches_central_differences(reduction, shape):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    _assert_backward_matches_central_differences(lambda: MSELoss(reduction=reduction), reduction, x, y)


# ---------------------------------------------------------------- log_softmax


def _reference_log_softmax(z, dim):
    """The textbook formula, written here so that a wrong forward cannot hide a wrong backward."""
    m = z.max(axis=dim, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=dim, keepdims=True))


@pytest.mark.task("04.2")
@pytest.mark.parametrize("shape, dim", [((5,), -1), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_log_softmax_backward_uses_grad_output_and_matches_central_differences(shape, dim):
    rng = np.random.default_rng(3)
    x, grad_output = rng.normal(size=shape) * 3, rng.normal(size=shape)  # not all ones: it must be used
    ctx = Context()
    LogSoftmaxFunction.forward(ctx, x.copy(), dim)
    analytic = LogSoftmaxFunction.backward(ctx, grad_output.copy())
    numeric = vjp_numerical(lambda z: _reference_log_softmax(z, dim), x, grad_output)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- cross entropy

_W4 = np.array([0.5, 2.0, 1.0, 1.5])


def _indices(shape, n_classes, seed):
    return np.random.default_rng(seed).integers(0, n_classes, size=shape)


def _probabilities(shape, seed, axis):
    p = np.random.default_rng(seed).random(shape) + 0.05
    return p / p.sum(axis=axis, keepdims=True)


def _with_ignored(target, positions, value=-100):
    target = target.copy()
    target[positions] = value
    return target


# name -> (options, logits shape, target)
def _ce_tasks(case):
    """The cross entropy stages a case needs: 04.3 plain, 04.4 weights / ignore_index, 04.5 smoothing, 04.6 probabilities."""
    if "probabilit" in case or "soft" in case:
        return "04.6"
    stage_1 = () if "k_dimensional" in case else ("04.3",)  # K-dim: the given code picks the target column
    return stage_1 + (("04.4",) if "weight" in case or "ignore" in case else ()) + (("04.5",) if "smoothing" in case else ())


CE_CASES = {
    "plain": (dict(), (5, 4), _indices(5, 4, 10)),
    "weight": (dict(weight=_W4), (5, 4), _indices(5, 4, 11)),
    "ignore_index_some_ignored": (dict(), (5, 4), _with_ignored(_indices(5, 4, 12), [1, 3])),
    "ignore_index_is_a_class_with_weight": (
        dict(ignore_index=2, weight=_W4),
        (6, 4),
        np.array([2, 0, 1, 2, 3, 1]),
    ),
    "ignore_index_minus_one": (dict(ignore_index=-1), (4, 4), np.array([0, -1, 3, 1])),
    "label_smoothing": (dict(label_smoothing=0.2), (5, 4), _indices(5, 4, 13)),
    "label_smoothing_and_weight": (dict(label_smoothing=0.3, weight=_W4), (5, 4), _indices(5, 4, 14)),
    "label_smoothing_weight_and_ignored": (
        dict(label_smoothing=0.3, weight=_W4),
        (5, 4),
        _with_ignored(_indices(5, 4, 15), [0]),
    ),
    "probability_targets": (dict(), (5, 4), _probabilities((5, 4), 16, axis=1)),
    "probability_targets_smoothing_weight": (
        dict(label_smoothing=0.25, weight=_W4),
        (5, 4),
        _probabilities((5, 4), 17, axis=1),
    ),
    "k_dimensional": (dict(), (2, 4, 3, 2), _indices((2, 3, 2), 4, 18)),
    "k_dimensional_weight_ignored_smoothing": (
        dict(weight=_W4, label_smoothing=0.1),
        (2, 4, 3, 2),
        _with_ignored(_indices((2, 3, 2), 4, 19), (0, 1, 1)),
    ),
    "k_dimensional_probability_targets": (dict(weight=_W4), (2, 4, 3), _probabilities((2, 4, 3), 20, axis=1)),
    "unbatched": (dict(), (4,), np.array(2)),
    "unbatched_smoothing_weight": (dict(label_smoothing=0.2, weight=_W4), (4,), np.array(1)),
    "unbatched_probability_target": (dict(), (4,), _probabilities((4,), 21, axis=0)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", marked(list(CE_CASES), _ce_tasks))
def test_cross_entropy_backward_matches_central_differences(case, reduction):
    options, shape, target = CE_CASES[case]
    x = np.random.default_rng(list(CE_CASES).index(case)).normal(size=shape) * 2.0
    _assert_backward_matches_central_differences(
        lambda: CrossEntropyLoss(reduction=reduction, **options), reduction, x, target
    )


# ---------------------------------------------------------------- BCE


@pytest.mark.task("04.7")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "weight", [None, np.array([0.5, 1.0, 2.0]), np.array([[2.0], [0.5], [1.0], [3.0]])], ids=["none", "row", "column"]
)
@pytest.mark.parametrize("targets", ["hard", "soft"])
def test_bce_backward_matches_central_differences(reduction, weight, targets):
    rng = np.random.default_rng(2)
    p = rng.uniform(0.1, 0.9, size=(4, 3))  # away from 0 and 1, where the check is well conditioned
    y = (rng.random((4, 3)) > 0.5).astype(np.float64) if targets == "hard" else rng.random((4, 3))
    _assert_backward_matches_central_differences(
        lambda: BinaryCrossEntropyLoss(weight=weight, reduction=reduction), reduction, p, y
    )


# ---------------------------------------------------------------- BCE with logits


@pytest.mark.task("04.8")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(weight=np.array([0.5, 1.0, 2.0])),
        dict(pos_weight=np.array([3.0, 0.5, 1.0])),
        dict(weight=np.array([[2.0], [0.5], [1.0], [3.0]]), pos_weight=np.array([3.0, 0.5, 1.5])),
    ],
    ids=["plain", "weight", "pos_weight", "weight_and_pos_weight"],
)
def test_bce_with_logits_backward_matches_central_differences(reduction, options):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3)) * 3.0
    y = rng.random((4, 3))
    y[0] = [0.0, 1.0, 1.0]
    _assert_backward_matches_central_differences(
        lambda: BinaryCrossEntropyWithLogitsLoss(reduction=reduction, **options), reduction, x, y
    )
