"""The public surface: classes, repr and config, dtypes and shapes, accepted inputs, and the deliberate
differences from PyTorch listed in the spec."""
import json
import math

import numpy as np
import pytest

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

LOSS_CLASSES = [MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss, BinaryCrossEntropyWithLogitsLoss]


def _example(cls, dtype=np.float64):
    """A small (input, target) pair that each loss accepts; float inputs of `dtype`."""
    rng = np.random.default_rng(0)
    if cls is CrossEntropyLoss:
        return rng.normal(size=(4, 3)).astype(dtype), np.array([0, 2, 1, 2])
    if cls is BinaryCrossEntropyLoss:
        return rng.uniform(0.1, 0.9, size=(4, 3)).astype(dtype), (rng.random((4, 3)) > 0.5).astype(dtype)
    return rng.normal(size=(4, 3)).astype(dtype), rng.random((4, 3)).astype(dtype)


_FUNCTION_OF = {
    MSELoss: mse_loss,
    CrossEntropyLoss: cross_entropy,
    BinaryCrossEntropyLoss: binary_cross_entropy,
    BinaryCrossEntropyWithLogitsLoss: binary_cross_entropy_with_logits,
}

_by_name = pytest.mark.parametrize("cls", LOSS_CLASSES, ids=lambda c: c.__name__)


# ---------------------------------------------------------------- the classes


def test_nn_namespace_exports_the_same_loss_classes():
    import tinytorch.nn as nn

    for cls in LOSS_CLASSES:
        assert getattr(nn, cls.__name__) is cls


@_by_name
def test_every_loss_class_is_a_loss(cls):
    assert issubclass(cls, Loss)
    assert isinstance(cls(), Loss)


@_by_name
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_call_forward_and_functional_form_agree(cls, reduction):
    x, target = _example(cls)
    via_call = cls(reduction=reduction)(x, target)
    via_forward = cls(reduction=reduction).forward(x, target)
    via_function = _FUNCTION_OF[cls](x, target, reduction=reduction)
    for out in (via_call, via_forward, via_function):
        assert isinstance(out, Tensor)
    np.testing.assert_array_equal(via_call.data, via_forward.data)
    np.testing.assert_allclose(via_call.data, via_function.data, rtol=1e-15)


@_by_name
def test_mean_and_sum_give_zero_dimensional_tensors(cls):
    x, target = _example(cls)
    for reduction in ("mean", "sum"):
        out = cls(reduction=reduction)(x, target)
        assert isinstance(out, Tensor)
        assert out.shape == ()


@_by_name
def test_none_reduction_gives_one_value_per_element(cls):
    x, target = _example(cls)
    out = cls(reduction="none")(x, target)
    expected = target.shape if cls is CrossEntropyLoss else x.shape
    assert out.shape == expected


def test_cross_entropy_none_has_the_target_shape_for_k_dimensional_and_unbatched_logits():
    assert cross_entropy(np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 5), dtype=np.int64), reduction="none").shape == (2, 4, 5)
    assert cross_entropy(np.zeros(3), np.array(1), reduction="none").shape == ()
    probs = np.full((2, 3, 4), 1 / 3)
    assert cross_entropy(np.zeros((2, 3, 4)), probs, reduction="none").shape == (2, 4)


@_by_name
def test_backward_returns_gradient_of_the_last_forward(cls):
    x1, target = _example(cls)
    x2 = np.clip(x1[::-1].copy() * 0.5 + 0.2, 0.05, 0.95) if cls is BinaryCrossEntropyLoss else x1[::-1] * 3.0
    reference = cls()
    reference(x2, target)
    expected = reference.backward().data
    loss = cls()
    loss(x1, target)
    loss(x2, target)
    got = loss.backward()
    np.testing.assert_array_equal(got.data, expected)
    assert not np.allclose(expected, _forward_then_backward(cls(), x1, target))


def _forward_then_backward(loss, x, target, grad_output=None):
    loss(x, target)
    return loss.backward(grad_output).data


@_by_name
def test_backward_scales_with_grad_output(cls):
    x, target = _example(cls)
    for reduction in ("mean", "sum"):
        unit = _forward_then_backward(cls(reduction=reduction), x, target)
        loss = cls(reduction=reduction)
        scaled = _forward_then_backward(loss, x, target, Tensor(np.array(2.5)))
        np.testing.assert_allclose(scaled, 2.5 * unit, rtol=1e-12)


@_by_name
def test_sum_backward_with_ones_equals_none_backward_with_ones(cls):
    x, target = _example(cls)
    total = _forward_then_backward(cls(reduction="sum"), x, target)
    none_loss = cls(reduction="none")
    out = none_loss(x, target)
    per_element = none_loss.backward(Tensor(np.ones(np.shape(out.data)))).data
    np.testing.assert_allclose(per_element, total, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- repr and config


@_by_name
def test_repr_of_default_loss_shows_no_options(cls):
    assert repr(cls()) == f"{cls.__name__}()"


@pytest.mark.parametrize(
    "loss, text",
    [
        (CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss(label_smoothing=0.1)"),
        (CrossEntropyLoss(ignore_index=0), "CrossEntropyLoss(ignore_index=0)"),
        (MSELoss(reduction="sum"), "MSELoss(reduction='sum')"),
        (BinaryCrossEntropyLoss(reduction="none"), "BinaryCrossEntropyLoss(reduction='none')"),
    ],
)
def test_repr_shows_exactly_the_non_default_options(loss, text):
    assert repr(loss) == text


def test_repr_with_several_options_names_each_of_them():
    text = repr(CrossEntropyLoss(weight=[1.0, 2.0], reduction="sum", label_smoothing=0.2))
    assert text.startswith("CrossEntropyLoss(") and text.endswith(")")
    for part in ("weight=", "reduction='sum'", "label_smoothing=0.2"):
        assert part in text
    assert "ignore_index" not in text


_CONFIGURED = [
    MSELoss(),
    MSELoss(reduction="sum"),
    CrossEntropyLoss(),
    CrossEntropyLoss(weight=np.array([0.5, 2.0, 1.0]), ignore_index=1, reduction="none", label_smoothing=0.1),
    CrossEntropyLoss(weight=[1.0, 2.0, 3.0]),
    BinaryCrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]), reduction="sum"),
    BinaryCrossEntropyWithLogitsLoss(),
    BinaryCrossEntropyWithLogitsLoss(weight=np.array([[1.0], [2.0], [1.0], [0.5]]), pos_weight=np.array([2.0, 1.0, 3.0])),
]
_CONFIGURED_IDS = [f"{type(loss).__name__}-{i}" for i, loss in enumerate(_CONFIGURED)]


@pytest.mark.parametrize("loss", _CONFIGURED, ids=_CONFIGURED_IDS)
def test_config_is_plain_json_and_round_trips_to_an_equal_loss(loss):
    config = loss.get_config()
    assert type(config) is dict
    text = json.dumps(config)  # plain data only: no arrays, no Tensors
    rebuilt = Loss.from_config(config)
    assert type(rebuilt) is type(loss)
    assert rebuilt == loss
    assert Loss.from_config(json.loads(text)) == loss


@pytest.mark.parametrize("loss", _CONFIGURED, ids=_CONFIGURED_IDS)
def test_rebuilt_loss_computes_the_same_values(loss):
    x, target = _example(type(loss))
    rebuilt = Loss.from_config(json.loads(json.dumps(loss.get_config())))
    np.testing.assert_array_equal(rebuilt(x, target).data, loss(x, target).data)


def test_losses_with_different_options_are_not_equal():
    assert MSELoss() == MSELoss()
    assert MSELoss() != MSELoss(reduction="sum")
    assert CrossEntropyLoss(label_smoothing=0.1) != CrossEntropyLoss()
    assert CrossEntropyLoss(weight=[1.0, 2.0]) != CrossEntropyLoss(weight=[1.0, 3.0])
    assert CrossEntropyLoss(weight=[1.0, 2.0]) == CrossEntropyLoss(weight=np.array([1.0, 2.0]))
    assert BinaryCrossEntropyLoss() != BinaryCrossEntropyWithLogitsLoss()
    assert MSELoss() != CrossEntropyLoss()


# ---------------------------------------------------------------- dtypes


@_by_name
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_and_gradient_keep_the_input_dtype(cls, dtype, reduction):
    x, target = _example(cls, dtype)
    loss = cls(reduction=reduction)
    out = loss(x, target)
    assert out.dtype == dtype
    grad_output = None if reduction != "none" else Tensor(np.ones(np.shape(out.data), dtype=dtype))
    grad = loss.backward(grad_output)
    assert isinstance(grad, Tensor)
    assert grad.dtype == dtype
    assert grad.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_keeps_the_input_dtype(dtype):
    out = log_softmax(np.zeros((2, 3), dtype=dtype))
    assert isinstance(out, Tensor)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_options_keep_the_input_dtype(dtype):
    x = np.zeros((4, 3), dtype=dtype)
    probs = np.full((4, 3), 1 / 3, dtype=dtype)
    weight = np.array([1.0, 2.0, 3.0])  # float64 weight must not upcast a float32 batch
    assert cross_entropy(x, np.array([0, 1, 2, 0]), weight=weight, label_smoothing=0.1).dtype == dtype
    assert cross_entropy(x, probs, weight=weight).dtype == dtype
    assert binary_cross_entropy_with_logits(x, probs, pos_weight=weight).dtype == dtype
    assert binary_cross_entropy(probs, probs, weight=weight).dtype == dtype


# ---------------------------------------------------------------- input types


@_by_name
def test_tensor_array_and_nested_list_inputs_give_the_same_loss(cls):
    x, target = _example(cls, np.float32)
    from_arrays = cls()(x, target)
    from_tensors = cls()(Tensor(x), Tensor(target))
    from_lists = cls()(x.tolist(), target.tolist())
    for out in (from_arrays, from_tensors, from_lists):
        assert isinstance(out, Tensor)
        assert out.dtype == np.float32
    np.testing.assert_array_equal(from_tensors.data, from_arrays.data)
    np.testing.assert_allclose(from_lists.data, from_arrays.data, rtol=1e-6)


def test_log_softmax_accepts_tensor_array_and_list():
    x = [[0.0, 1.0], [2.0, 2.0]]
    expected = np.array([[-math.log1p(math.e), 1 - math.log1p(math.e)], [-math.log(2), -math.log(2)]])
    for given in (x, np.array(x), Tensor(np.array(x))):
        out = log_softmax(given)
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_backward_accepts_array_grad_output_for_none():
    loss = MSELoss(reduction="none")
    loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(loss.backward(np.array([1.0, -1.0])).data, [2.0, -4.0], rtol=1e-15)


# ---------------------------------------------------------------- deliberate differences from PyTorch


def test_integral_float_targets_are_class_indices():
    x = np.random.default_rng(5).normal(size=(3, 3))
    as_floats = cross_entropy(x, np.array([0.0, 2.0, 1.0]), reduction="none")
    as_ints = cross_entropy(x, np.array([0, 2, 1]), reduction="none")
    np.testing.assert_array_equal(as_floats.data, as_ints.data)
    assert as_floats.shape == (3,)


def test_integral_float_targets_in_a_list_are_class_indices():
    x = np.random.default_rng(6).normal(size=(2, 3))
    np.testing.assert_array_equal(
        cross_entropy(x, [0.0, 2.0]).data, cross_entropy(x, np.array([0, 2])).data
    )


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])
def test_any_integer_dtype_works_as_class_indices(dtype):
    x = np.random.default_rng(7).normal(size=(4, 3))
    expected = cross_entropy(x, np.array([0, 2, 1, 2], dtype=np.int64), reduction="none").data
    got = cross_entropy(x, np.array([0, 2, 1, 2], dtype=dtype), reduction="none").data
    np.testing.assert_array_equal(got, expected)


def test_integer_index_targets_and_their_gradient_do_not_depend_on_the_integer_dtype():
    x = np.random.default_rng(8).normal(size=(4, 3))
    grads = []
    for dtype in (np.int64, np.int32, np.uint8):
        loss = CrossEntropyLoss(weight=[1.0, 0.5, 2.0])
        loss(x, np.array([0, 2, 1, 2], dtype=dtype))
        grads.append(loss.backward().data)
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[2], grads[0])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_bce_accepts_integer_zero_one_targets(dtype):
    p = np.array([0.2, 0.7, 0.9, 0.4])
    hard = np.array([0, 1, 1, 0])
    expected = binary_cross_entropy(p, hard.astype(np.float64), reduction="none").data
    np.testing.assert_array_equal(binary_cross_entropy(p, hard.astype(dtype), reduction="none").data, expected)
    loss = BinaryCrossEntropyLoss()
    out = loss(p.astype(np.float32), hard.astype(dtype))
    assert out.dtype == np.float32
    assert loss.backward().dtype == np.float32


def test_nan_logit_propagates_to_the_loss():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    none = cross_entropy(x, np.array([0, 1]), reduction="none").data
    assert np.isnan(none[0])
    assert np.isfinite(none[1])
    assert np.isnan(float(cross_entropy(x, np.array([0, 1])).data))


def test_nan_input_propagates_through_mse_and_bce_with_logits():
    x = np.array([0.0, np.nan])
    y = np.array([0.0, 1.0])
    assert np.isnan(mse_loss(x, y, reduction="none").data).tolist() == [False, True]
    assert np.isnan(binary_cross_entropy_with_logits(x, y, reduction="none").data).tolist() == [False, True]


def test_all_targets_ignored_gives_nan_mean_and_zero_sum():
    x = np.random.default_rng(9).normal(size=(3, 4))
    t = np.full(3, -100)
    assert np.isnan(float(cross_entropy(x, t).data))
    assert float(cross_entropy(x, t, reduction="sum").data) == 0.0
    np.testing.assert_array_equal(cross_entropy(x, t, reduction="none").data, np.zeros(3))


def test_negative_ignore_index_value_is_skipped_not_range_checked():
    x = np.random.default_rng(10).normal(size=(3, 4))
    with_ignored = cross_entropy(x, np.array([1, -7, 3]), ignore_index=-7, reduction="none").data
    assert with_ignored[1] == 0.0
    expected = cross_entropy(x[[0, 2]], np.array([1, 3]), reduction="none").data
    np.testing.assert_allclose(with_ignored[[0, 2]], expected, rtol=1e-15)
