"""Parity with PyTorch on values AND gradients, in float16, float32 and float64, for every option.

PyTorch's autograd gives the reference gradient for the same grad_output. The deliberate
differences from PyTorch (see the spec's table) are tested on their own in test_losses_api.py.
"""
import numpy as np
import pytest
from tasks import marked

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tinytorch.core.autograd import Context  # noqa: E402
from tinytorch.core.losses import (  # noqa: E402
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    LogSoftmaxFunction,
    MSELoss,
    log_softmax,
)
from tinytorch.core.tensor import Tensor  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float16, np.float32, np.float64]
# float16 has 11 significant bits (one part in 2048): allow a few of its roundings, torch's and ours
TOLERANCE = {
    np.float16: dict(rtol=4e-3, atol=2e-3),
    np.float32: dict(rtol=1e-5, atol=1e-6),
    np.float64: dict(rtol=1e-10, atol=1e-12),
}
TORCH_FLOAT16_TOLERANCE = dict(rtol=2e-2, atol=1e-2)
_dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
_reductions = pytest.mark.parametrize("reduction", REDUCTIONS)


def _torch_options(options, dtype, compute_dtype=None):
    """The same options for torch: arrays become tensors of the input's dtype (then of compute_dtype, if given)."""
    def convert(v):
        v = np.asarray(v, dtype=dtype)
        return torch.tensor(v if compute_dtype is None else v.astype(compute_dtype))

    return {k: convert(v) if k in ("weight", "pos_weight") else v for k, v in options.items()}


def _torch_forward_backward(torch_fn, x, torch_target, reduction, options, dtype, grad_output, compute_dtype=None):
    """torch's loss and gradient; with compute_dtype, computed in that dtype from the same (rounded) numbers."""
    if compute_dtype is not None:
        x = x.astype(compute_dtype)
        torch_target = torch_target.to(torch.float64) if torch_target.is_floating_point() else torch_target
        grad_output = None if grad_output is None else grad_output.astype(compute_dtype)
    x_torch = torch.tensor(x, requires_grad=True)
    ref = torch_fn(x_torch, torch_target, reduction=reduction, **_torch_options(options, dtype, compute_dtype))
    ref.backward(None if grad_output is None else torch.tensor(grad_output))
    return ref.detach().numpy(), x_torch.grad.numpy()


def _assert_matches_torch(loss, torch_fn, x, target, torch_target, reduction, options, dtype, grad_tolerance=None):
    """Run our loss and torch_fn forward and backward with the same grad_output; compare both.

    float16: compared loosely with torch's float16 kernels wherever those are finite (they can overflow where we
    add up in float32, e.g. a smoothed sum past 65504), and tightly with torch in float64 on the same float16
    numbers, rounded to float16: the exact answer.
    """
    x = np.asarray(x, dtype=dtype)
    out = loss(x.copy(), target)
    grad_output = None
    if reduction == "none":
        grad_output = np.random.default_rng(0).normal(size=out.shape).astype(dtype)
    grad = loss.backward(None if grad_output is None else Tensor(grad_output.copy()))
    value, reference_grad = _torch_forward_backward(torch_fn, x, torch_target, reduction, options, dtype, grad_output)
    assert isinstance(out, Tensor) and isinstance(grad, Tensor)
    assert out.dtype == dtype and grad.dtype == dtype
    assert out.shape == value.shape
    assert grad.shape == x.shape
    tolerance = TOLERANCE[dtype]
    grad_tolerance = grad_tolerance if grad_tolerance is not None and dtype is not np.float16 else tolerance
    if dtype is not np.float16:
        np.testing.assert_allclose(out.data, value, **tolerance)
        np.testing.assert_allclose(grad.data, reference_grad, **grad_tolerance)
        return
    # torch's float16 kernels round some intermediate results to float16 (e.g. (1 + (pw-1) y) sigmoid(x) - pw y,
    # whose terms nearly cancel), so they are only a loose check; the float64 reference below is the tight one
    for ours, theirs in ((out.data, value), (grad.data, reference_grad)):
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], **TORCH_FLOAT16_TOLERANCE)
    exact_value, exact_grad = _torch_forward_backward(
        torch_fn, x, torch_target, reduction, options, dtype, grad_output, compute_dtype=np.float64
    )
    with np.errstate(over="ignore"):  # 1e12 (BCE at p = 0 or 1) is inf in float16, as torch's float16 gives
        exact_value, exact_grad = exact_value.astype(np.float16), exact_grad.astype(np.float16)
    np.testing.assert_allclose(out.data, exact_value, **tolerance)
    np.testing.assert_allclose(grad.data, exact_grad, **tolerance)


# ---------------------------------------------------------------- log_softmax


@pytest.mark.task("04.2")
@_dtypes
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_softmax_matches_torch(dtype, dim):
    x = (np.random.default_rng(0).normal(size=(3, 4, 5)) * 5).astype(dtype)
    expected = torch.log_softmax(torch.tensor(x), dim=dim).numpy()
    np.testing.assert_allclose(log_softmax(x, dim=dim).data, expected, **TOLERANCE[dtype])


@pytest.mark.task("04.2")
@_dtypes
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_softmax_backward_matches_torch(dtype, dim):
    rng = np.random.default_rng(1)
    x, g = (rng.normal(size=(3, 4, 5)) * 5).astype(dtype), rng.normal(size=(3, 4, 5)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    torch.log_softmax(xt, dim=dim).backward(torch.tensor(g))
    ctx = Context()
    LogSoftmaxFunction.forward(ctx, x.copy(), dim)
    got = LogSoftmaxFunction.backward(ctx, g.copy())
    assert got.dtype == dtype
    np.testing.assert_allclose(got, xt.grad.numpy(), **TOLERANCE[dtype])


@pytest.mark.task("04.2")
def test_log_softmax_of_huge_float32_logits_matches_torch():
    x = np.array([[3e38, 0.0, -1e3], [3e38, 3e38, 1.0], [-3e38, 0.0, 2.0]], dtype=np.float32)
    expected = torch.log_softmax(torch.tensor(x), dim=-1).numpy()
    got = log_softmax(x).data
    assert got.dtype == np.float32
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- MSE


@pytest.mark.task("04.1")
@_dtypes
@_reductions
@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 2)])
def test_mse_matches_torch(dtype, reduction, shape):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=shape), rng.normal(size=shape).astype(dtype)
    _assert_matches_torch(
        MSELoss(reduction=reduction), F.mse_loss, x, y, torch.tensor(y), reduction, {}, dtype
    )


# ---------------------------------------------------------------- cross entropy

_W4 = np.array([0.5, 2.0, 1.0, 1.5])


def _indices(shape, seed, n_classes=4):
    return np.random.default_rng(seed).integers(0, n_classes, size=shape)


def _probabilities(shape, seed, axis):
    p = np.random.default_rng(seed).random(shape) + 0.05
    return p / p.sum(axis=axis, keepdims=True)


def _ignoring(target, positions, value=-100):
    target = target.copy()
    target[positions] = value
    return target


# name -> (options, logits shape, target); targets are int64 indices or float probabilities
def _ce_tasks(case):
    """The cross entropy stages a case needs: 04.3 plain, 04.4 weights / ignore_index, 04.5 smoothing, 04.6 probabilities."""
    if "probabilit" in case or "soft" in case:
        return "04.6"
    stage_1 = () if "k_dimensional" in case else ("04.3",)  # K-dim: the given code picks the target column
    return stage_1 + (("04.4",) if "weight" in case or "ignore" in case else ()) + (("04.5",) if "smoothing" in case else ())


CE_CASES = {
    "plain": (dict(), (6, 4), _indices(6, 30)),
    "weight": (dict(weight=_W4), (6, 4), _indices(6, 31)),
    "ignore_index_some_ignored": (dict(), (6, 4), _ignoring(_indices(6, 32), [1, 4])),
    "ignore_index_is_a_class": (dict(ignore_index=1, weight=_W4), (6, 4), np.array([1, 0, 3, 1, 2, 0])),
    "ignore_index_minus_one": (dict(ignore_index=-1), (4, 4), np.array([0, -1, 3, 1])),
    "label_smoothing": (dict(label_smoothing=0.2), (6, 4), _indices(6, 33)),
    "label_smoothing_one": (dict(label_smoothing=1.0), (6, 4), _indices(6, 34)),
    "label_smoothing_and_weight": (dict(label_smoothing=0.3, weight=_W4), (6, 4), _indices(6, 35)),
    "smoothing_weight_ignored": (
        dict(label_smoothing=0.3, weight=_W4),
        (6, 4),
        _ignoring(_indices(6, 36), [0, 5]),
    ),
    "probability_targets": (dict(), (6, 4), _probabilities((6, 4), 37, axis=1)),
    "probability_targets_smoothing_weight": (
        dict(label_smoothing=0.25, weight=_W4),
        (6, 4),
        _probabilities((6, 4), 38, axis=1),
    ),
    "k_dimensional": (dict(), (2, 4, 3, 2), _indices((2, 3, 2), 39)),
    "k_dimensional_weight_smoothing_ignored": (
        dict(weight=_W4, label_smoothing=0.1),
        (2, 4, 3, 2),
        _ignoring(_indices((2, 3, 2), 40), (1, 2, 0)),
    ),
    "k_dimensional_probability_targets": (
        dict(weight=_W4, label_smoothing=0.2),
        (2, 4, 3),
        _probabilities((2, 4, 3), 41, axis=1),
    ),
    "unbatched": (dict(), (4,), np.array(3)),
    "unbatched_weight_smoothing": (dict(weight=_W4, label_smoothing=0.2), (4,), np.array(1)),
    "unbatched_probability_target": (dict(), (4,), _probabilities((4,), 42, axis=0)),
}


def _torch_target(target, dtype):
    if np.issubdtype(target.dtype, np.integer):
        return torch.from_numpy(target.astype(np.int64))  # torch wants int64 class indices
    return torch.tensor(target.astype(dtype))


@_dtypes
@_reductions
@pytest.mark.parametrize("case", marked(list(CE_CASES), _ce_tasks))
def test_cross_entropy_matches_torch(case, reduction, dtype):
    options, shape, target = CE_CASES[case]
    x = np.random.default_rng(list(CE_CASES).index(case)).normal(size=shape) * 3.0
    if not np.issubdtype(target.dtype, np.integer):
        target = target.astype(dtype)
    _assert_matches_torch(
        CrossEntropyLoss(reduction=reduction, **options),
        F.cross_entropy,
        x,
        target,
        _torch_target(target, dtype),
        reduction,
        options,
        dtype,
    )


@_dtypes
@_reductions
@pytest.mark.parametrize("smoothing", marked([0.0, 0.1], lambda e: ("04.3", "04.5") if e else "04.3", ids=str))
def test_cross_entropy_with_logits_of_plus_minus_1e4_matches_torch(dtype, reduction, smoothing):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [0.0, 1e4, -1e4]])
    t = np.array([1, 2, 0, 0])
    _assert_matches_torch(
        CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
        F.cross_entropy,
        x,
        t,
        torch.from_numpy(t),
        reduction,
        dict(label_smoothing=smoothing),
        dtype,
    )


# ---------------------------------------------------------------- BCE


@pytest.mark.task("04.7")
@_dtypes
@_reductions
@pytest.mark.parametrize(
    "weight", [None, np.array([0.5, 1.0, 2.0]), np.array([[2.0], [0.5], [1.0], [3.0]])], ids=["none", "row", "column"]
)
def test_bce_matches_torch(dtype, reduction, weight):
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.98, size=(4, 3))
    y = rng.random((4, 3)).astype(dtype)
    y[0] = [0.0, 1.0, 1.0]
    options = {} if weight is None else dict(weight=weight)
    _assert_matches_torch(
        BinaryCrossEntropyLoss(reduction=reduction, **options),
        F.binary_cross_entropy,
        p,
        y,
        torch.tensor(y),
        reduction,
        options,
        dtype,
    )


@pytest.mark.task("04.7")
@_dtypes
@_reductions
def test_bce_at_probabilities_exactly_zero_and_one_matches_torch(dtype, reduction):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3], dtype=dtype)
    _assert_matches_torch(
        BinaryCrossEntropyLoss(reduction=reduction),
        F.binary_cross_entropy,
        p,
        y,
        torch.tensor(y),
        reduction,
        {},
        dtype,
        # torch divides by the float32 constant 1e-12 even in float64; the spec says 1e-12
        grad_tolerance=dict(rtol=1e-6, atol=0),
    )


# ---------------------------------------------------------------- BCE with logits

_BCE_LOGITS_OPTIONS = {
    "plain": dict(),
    "weight": dict(weight=np.array([0.5, 1.0, 2.0])),
    "pos_weight": dict(pos_weight=np.array([3.0, 0.5, 1.0])),
    "weight_and_pos_weight": dict(weight=np.array([[2.0], [0.5], [1.0], [3.0]]), pos_weight=np.array([3.0, 0.5, 1.5])),
}


@pytest.mark.task("04.8")
@_dtypes
@_reductions
@pytest.mark.parametrize("name", list(_BCE_LOGITS_OPTIONS))
def test_bce_with_logits_matches_torch(dtype, reduction, name):
    options = _BCE_LOGITS_OPTIONS[name]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3)) * 4.0
    y = rng.random((4, 3)).astype(dtype)
    y[0] = [0.0, 1.0, 1.0]
    _assert_matches_torch(
        BinaryCrossEntropyWithLogitsLoss(reduction=reduction, **options),
        F.binary_cross_entropy_with_logits,
        x,
        y,
        torch.tensor(y),
        reduction,
        options,
        dtype,
    )


@pytest.mark.task("04.8")
@_dtypes
@_reductions
@pytest.mark.parametrize("pos_weight", [None, np.array([2.0, 0.5, 1.0, 3.0])], ids=["plain", "pos_weight"])
def test_bce_with_logits_at_plus_minus_100_matches_torch(dtype, reduction, pos_weight):
    x = np.array([100.0, -100.0, 100.0, -100.0])
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    options = {} if pos_weight is None else dict(pos_weight=pos_weight)
    _assert_matches_torch(
        BinaryCrossEntropyWithLogitsLoss(reduction=reduction, **options),
        F.binary_cross_entropy_with_logits,
        x,
        y,
        torch.tensor(y),
        reduction,
        options,
        dtype,
    )
