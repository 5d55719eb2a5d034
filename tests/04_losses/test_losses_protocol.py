"""The framework's rules (module 02's protocol) as every loss keeps them, and the traps a later module would
otherwise walk into: saved values that follow the caller's arrays, stale gradients, array subclasses,
options that NumPy would read as something else, and numerics that raise under np.seterr."""
import inspect
import re

import numpy as np
import pytest
from loss_cases import LOSS_CLASSES, LOSS_TASKS, by_task

import tinytorch
from tinytorch.core.autograd import Module
from tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
)
from tinytorch.core.tensor import Tensor

_by_class = pytest.mark.parametrize("cls", by_task())


def _example(cls):
    rng = np.random.default_rng(3)
    if cls is CrossEntropyLoss:
        return rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    if cls is BinaryCrossEntropyLoss:
        return rng.uniform(0.1, 0.9, size=(4, 3)), rng.uniform(0, 1, size=(4, 3))
    return rng.normal(size=(4, 3)), rng.normal(size=(4, 3))


def _probability_example():
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 1, size=(4, 3))
    return rng.normal(size=(4, 3)), p / p.sum(axis=1, keepdims=True)


def _gradient(loss, x, target, g=None):
    loss(x, target)
    return loss.backward(g).data


def test_every_loss_is_a_module():
    assert issubclass(Loss, Module) and all(issubclass(cls, Loss) for cls in LOSS_CLASSES)


# ---------------------------------------------------------------- saved values are private


@_by_class
@pytest.mark.parametrize("changed", ["input", "target", "output", "grad_output"])
def test_a_callers_in_place_change_after_forward_cannot_alter_the_gradient(cls, changed):
    x, target = _example(cls)
    g = np.ones(len(target)) if cls is CrossEntropyLoss else np.ones(x.shape)
    expected = _gradient(cls(reduction="none"), x.copy(), target.copy(), g.copy())
    x2, t2, g2 = x.copy(), target.copy(), g.copy()
    loss = cls(reduction="none")
    out = loss(x2, t2)
    if changed == "input":
        x2 *= 0.5
    elif changed == "target":
        t2[...] = t2[::-1].copy()
    elif changed == "output":
        out.data[...] = 7.0
    got = loss.backward(g2)
    if changed == "grad_output":
        g2 *= 3.0
    np.testing.assert_array_equal(got.data, expected)


@pytest.mark.task("04.6")
def test_a_callers_change_to_probability_targets_cannot_alter_the_cross_entropy_gradient():
    x, p = _probability_example()
    expected = _gradient(CrossEntropyLoss(), x, p.copy())
    loss = CrossEntropyLoss()
    loss(x, p)
    p[...] = p[::-1].copy()
    np.testing.assert_array_equal(loss.backward().data, expected)


@pytest.mark.task("04.7")
def test_bce_gradient_follows_the_forward_not_a_later_change_of_p():
    """The case from the issue: p changed after the forward gave [1, -1] instead of [0.625, -0.556]."""
    p, y = np.array([0.8, 0.1]), np.array([1.0, 0.9])
    loss = BinaryCrossEntropyLoss(reduction="sum")
    loss(p, y)
    p[:] = [1.0, 0.0]
    np.testing.assert_allclose(loss.backward().data, [-0.2 / 0.16, -0.8 / 0.09], rtol=1e-12)  # (p - y) / (p (1 - p))


# ---------------------------------------------------------------- one backward per forward, failed forwards, no_grad


@_by_class
def test_backward_after_a_forward_that_raised_is_a_runtime_error_not_the_previous_gradient(cls):
    x, target = _example(cls)
    loss = cls()
    loss(x, target)
    with pytest.raises((ValueError, IndexError)):
        loss(x, target[:2])  # batch sizes differ
    with pytest.raises(RuntimeError, match=re.escape(f"{cls.__name__}.backward(): the last forward() raised an error")):
        loss.backward()


@_by_class
def test_a_forward_under_no_grad_leaves_the_last_saved_forward_alone(cls):
    x, target = _example(cls)
    expected = _gradient(cls(), x, target)
    loss = cls()
    loss(x, target)
    with tinytorch.no_grad():
        out = loss(x[:2], target[:2])
    assert out.shape == ()
    np.testing.assert_array_equal(loss.backward().data, expected)


@_by_class
def test_forwards_only_under_no_grad_leave_nothing_to_backward(cls):
    x, target = _example(cls)
    loss = cls()
    with tinytorch.no_grad():
        loss(x, target)
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()


@pytest.mark.task("04.3")
def test_loss_backward_on_the_returned_tensor_says_how_gradients_are_obtained():
    out = CrossEntropyLoss()(np.zeros((2, 3)), [0, 1])
    with pytest.raises(RuntimeError, match=r"loss_fn\.backward\(\)") as info:
        out.backward()
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- inputs: array subclasses


@pytest.mark.task("04.1")
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_np_matrix_is_read_as_a_plain_array_with_pytorchs_numbers():
    a = np.arange(6.0).reshape(2, 3) - 2.0  # squares 4, 1, 0, 1, 4, 9: mean 19/6
    assert mse_loss(np.matrix(a), np.matrix(0 * a)).item() == pytest.approx(19 / 6, rel=1e-15)
    assert mse_loss(np.matrix([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))).item() == 7.5  # not 13.5


@pytest.mark.parametrize("where", ["input", "target"])
def test_masked_arrays_are_refused_with_a_clear_error(where):
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    args = (masked, np.zeros(3)) if where == "input" else (np.zeros(3), masked)
    with pytest.raises(TypeError, match="masked arrays"):
        mse_loss(*args)


# ---------------------------------------------------------------- options NumPy would misread


WEIGHTED = [
    ("CrossEntropyLoss weight", lambda w: CrossEntropyLoss(weight=w)),
    ("cross_entropy weight", lambda w: cross_entropy(np.zeros((2, 3)), [0, 1], weight=w)),
    ("BinaryCrossEntropyLoss weight", lambda w: BinaryCrossEntropyLoss(weight=w)),
    ("binary_cross_entropy weight", lambda w: binary_cross_entropy(np.full(3, 0.5), np.ones(3), weight=w)),
    ("BinaryCrossEntropyWithLogitsLoss pos_weight", lambda w: BinaryCrossEntropyWithLogitsLoss(pos_weight=w)),
    ("binary_cross_entropy_with_logits pos_weight",
     lambda w: binary_cross_entropy_with_logits(np.zeros(3), np.ones(3), pos_weight=w)),
]


@pytest.mark.parametrize("make", [m for _, m in WEIGHTED], ids=[n for n, _ in WEIGHTED])
@pytest.mark.parametrize("bad, shown", [
    ("3", r"'3'"),                                   # NumPy reads it as the number 3
    ([1.0, None, 1.0], r"None"),                     # NumPy makes it NaN
    ([1 + 2j, 1.0, 1.0], r"complex"),                # NumPy drops the imaginary part
    ([True, False, True], r"bool"),
    (np.array(["2026-01-01"] * 3, dtype="datetime64[D]"), r"datetime64"),
])
def test_weights_that_are_not_real_numbers_are_a_type_error_naming_them(make, bad, shown):
    with pytest.raises(TypeError, match=shown):
        make(bad)


@pytest.mark.parametrize("form", ["function", "class"])
@pytest.mark.parametrize("bad", [None, "a", 1.5, [0, 1, 2], True])
def test_ignore_index_that_is_not_an_int_is_a_type_error_naming_ignore_index(form, bad):
    with pytest.raises(TypeError, match=r"ignore_index must be an int.*got " + re.escape(repr(bad))):
        if form == "function":
            cross_entropy(np.zeros((3, 3)), [0, 1, 2], ignore_index=bad)
        else:
            CrossEntropyLoss(ignore_index=bad)


@pytest.mark.task("04.3", "04.4")
def test_ignore_index_accepts_numpy_integers():
    assert cross_entropy(np.zeros((2, 3)), [0, 5], ignore_index=np.int64(5)).item() == pytest.approx(np.log(3))


# ---------------------------------------------------------------- empty, NaN upstream, precision, seterr


@pytest.mark.parametrize("shape, dim", [((3, 0), -1), ((0, 4), 0), ((2, 0, 3), 1)])
def test_log_softmax_over_an_empty_dimension_is_empty(shape, dim):
    out = log_softmax(np.zeros(shape, np.float32), dim=dim)
    assert out.shape == shape and out.dtype == np.float32


@pytest.mark.task("04.3", "04.4", "04.5")
def test_a_nan_grad_output_at_an_ignored_position_gives_that_row_a_zero_gradient():
    loss = CrossEntropyLoss(reduction="none", label_smoothing=0.1, weight=[1.0, 2.0, 0.5])
    loss(np.random.default_rng(5).normal(size=(3, 3)), [0, -100, 2])
    grad = loss.backward(np.array([1.0, np.nan, np.inf])).data
    assert np.all(grad[1] == 0.0)
    assert np.all(np.isfinite(grad[0])) and np.all(np.isnan(grad[2]) | np.isinf(grad[2]))


@_by_class
def test_a_python_float_grad_output_is_read_at_the_losss_precision(cls):
    x, target = _example(cls)
    loss = cls(reduction="sum")
    loss(x, target)
    got = loss.backward(0.1).data
    loss(x, target)
    exact = loss.backward(np.float64(0.1)).data
    np.testing.assert_array_equal(got, exact)  # not rounded through float32 (relative error 1.5e-8)


@pytest.mark.parametrize("cls", by_task(lambda c: tuple(sorted({LOSS_TASKS[c], "04.2"}))))
def test_finite_inputs_raise_nothing_under_seterr_all_raise(cls):
    x, target = _example(cls)
    if cls is CrossEntropyLoss:
        x = np.array([[0.0, -800.0, 0.0], [-800.0, 0.0, 800.0]])
        target = np.array([1, 0])
    elif cls is BinaryCrossEntropyLoss:
        x = np.array([0.0, 1.0, 1e-300, 0.5])
        target = np.array([1.0, 0.0, 0.0, 0.5])
    else:
        x, target = np.array([-800.0, 800.0, 1e-300]), np.array([1.0, 0.0, 0.5])
    with np.errstate(all="raise"):
        loss = cls(reduction="none")
        out = loss(x, target)
        loss.backward(np.ones(out.shape))
        log_softmax(np.array([0.0, -800.0]))


@pytest.mark.task("04.3")
def test_unbatched_cross_entropy_with_reduction_none_is_a_0d_loss_whose_backward_needs_no_grad_output():
    loss = CrossEntropyLoss(reduction="none")
    out = loss(np.array([0.0, np.log(3.0)]), 1)
    assert out.shape == ()
    np.testing.assert_allclose(loss.backward().data, [0.25, -0.25], rtol=1e-12)


# ---------------------------------------------------------------- options stored explicitly; from_config


def test_subclasses_of_subclasses_are_known_to_from_config():
    class SmoothedCrossEntropy(CrossEntropyLoss):
        def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.1):
            super().__init__(weight, ignore_index, reduction, label_smoothing)

    loss = SmoothedCrossEntropy(reduction="sum")
    assert Loss.from_config(loss.get_config()) == loss
    assert type(Loss.from_config(loss.get_config())) is SmoothedCrossEntropy


@_by_class
def test_forward_backward_repr_and_config_never_read_the_signature(cls, monkeypatch):
    x, target = _example(cls)

    def refuse(*args, **kwargs):
        raise AssertionError("inspect.signature was called")

    monkeypatch.setattr(inspect, "signature", refuse)
    loss = cls(reduction="sum")
    loss(x, target)
    loss.backward()
    assert repr(loss) == f"{cls.__name__}(reduction='sum')"
    assert Loss.from_config(loss.get_config()) == loss


def test_the_options_a_loss_stores_are_its_constructors_arguments():
    for cls in LOSS_CLASSES:
        assert list(cls._options) == list(inspect.signature(cls.__init__).parameters)[1:], cls.__name__


@pytest.mark.task("04.1")
def test_a_tensor_input_and_target_work_and_the_gradient_is_a_tensor():
    loss = MSELoss()
    loss(Tensor([1.0, 3.0]), Tensor([0.0, 0.0]))
    grad = loss.backward()
    assert isinstance(grad, Tensor) and grad.data.tolist() == [1.0, 3.0]
