"""The public surface: classes, repr and config, dtypes and shapes, accepted inputs, and the deliberate
differences from PyTorch listed in the spec."""
import json
import math

import numpy as np
import pytest
from loss_cases import LOSS_CLASSES, by_task
from tasks import marked

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
_by_task = pytest.mark.parametrize("cls", by_task())


# ---------------------------------------------------------------- the classes


def test_nn_namespace_exports_the_same_loss_classes():
    import tinytorch.nn as nn

    for cls in LOSS_CLASSES:
        assert getattr(nn, cls.__name__) is cls


@_by_name
def test_every_loss_class_is_a_loss(cls):
    assert issubclass(cls, Loss)
    assert isinstance(cls(), Loss)


@_by_task
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


@_by_task
def test_mean_and_sum_give_zero_dimensional_tensors(cls):
    x, target = _example(cls)
    for reduction in ("mean", "sum"):
        out = cls(reduction=reduction)(x, target)
        assert isinstance(out, Tensor)
        assert out.shape == ()


@_by_task
def test_none_reduction_gives_one_value_per_element(cls):
    x, target = _example(cls)
    out = cls(reduction="none")(x, target)
    expected = target.shape if cls is CrossEntropyLoss else x.shape
    assert out.shape == expected


@pytest.mark.task("04.3", "04.6")
def test_cross_entropy_none_has_the_target_shape_for_k_dimensional_and_unbatched_logits():
    assert cross_entropy(np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 5), dtype=np.int64), reduction="none").shape == (2, 4, 5)
    assert cross_entropy(np.zeros(3), np.array(1), reduction="none").shape == ()
    probs = np.full((2, 3, 4), 1 / 3)
    assert cross_entropy(np.zeros((2, 3, 4)), probs, reduction="none").shape == (2, 4)


@_by_task
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


@_by_task
def test_backward_scales_with_grad_output(cls):
    x, target = _example(cls)
    for reduction in ("mean", "sum"):
        unit = _forward_then_backward(cls(reduction=reduction), x, target)
        loss = cls(reduction=reduction)
        scaled = _forward_then_backward(loss, x, target, Tensor(np.array(2.5)))
        np.testing.assert_allclose(scaled, 2.5 * unit, rtol=1e-12)


@_by_task
def test_sum_backward_with_ones_equals_none_backward_with_ones(cls):
    x, target = _example(cls)
    total = _forward_then_backward(cls(reduction="sum"), x, target)
    none_loss = cls(reduction="none")
    out = none_loss(x, target)
    per_element = none_loss.backward(Tensor(np.ones(np.shape(out.data)))).data
    np.testing.assert_allclose(per_element, total, rtol=1e-12, atol=1e-15)


def _grad_outputs(out_shape, dtype):
    """Two different grad_outputs for a loss of shape `out_shape`."""
    if out_shape == ():
        return Tensor(np.array(1.0, dtype)), Tensor(np.array(-2.5, dtype))
    rng = np.random.default_rng(14)
    return Tensor(rng.normal(size=out_shape).astype(dtype)), Tensor(rng.normal(size=out_shape).astype(dtype))


@_by_task
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_second_backward_for_one_forward_is_a_runtime_error_and_the_first_gradient_stands(cls, reduction):
    x, target = _example(cls)
    loss = cls(reduction=reduction)
    out = loss(x, target)
    g1, g2 = _grad_outputs(out.shape, np.float64)
    first = loss.backward(g1)
    first_values = first.data.copy()
    with pytest.raises(RuntimeError, match="already called for the last forward.*second time"):
        loss.backward(g2)
    np.testing.assert_array_equal(first.data, first_values)
    np.testing.assert_array_equal(first.data, _forward_then_backward(cls(reduction=reduction), x, target, g1))


@pytest.mark.task("04.1")
def test_backward_after_a_new_forward_uses_the_new_input():
    loss = MSELoss()
    loss(np.array([1.0, 2.0]), np.zeros(2))
    loss.backward()
    loss(np.array([3.0, 5.0]), np.zeros(2))
    np.testing.assert_array_equal(loss.backward().data, [3.0, 5.0])  # 2 x / 2, of the last forward


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
_CONFIGURED_TASKS = {id(loss): tasks for loss, tasks in zip(_CONFIGURED, [
    "04.1", "04.1", "04.3", ("04.3", "04.4", "04.5"), ("04.3", "04.4"), "04.7", "04.8", "04.8"])}


@pytest.mark.parametrize("loss", _CONFIGURED, ids=_CONFIGURED_IDS)
def test_config_is_plain_json_and_round_trips_to_an_equal_loss(loss):
    config = loss.get_config()
    assert type(config) is dict
    text = json.dumps(config)  # plain data only: no arrays, no Tensors
    rebuilt = Loss.from_config(config)
    assert type(rebuilt) is type(loss)
    assert rebuilt == loss
    assert Loss.from_config(json.loads(text)) == loss


@pytest.mark.parametrize("loss", marked(_CONFIGURED, lambda loss: _CONFIGURED_TASKS[id(loss)], ids=_CONFIGURED_IDS))
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


FLOAT_DTYPES = pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=["float16", "float32", "float64"])


@_by_task
@FLOAT_DTYPES
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


@pytest.mark.task("04.2")
@FLOAT_DTYPES
def test_log_softmax_keeps_the_input_dtype(dtype):
    out = log_softmax(np.zeros((2, 3), dtype=dtype))
    assert isinstance(out, Tensor)
    assert out.dtype == dtype


@pytest.mark.task("04.3", "04.4", "04.5", "04.6", "04.7", "04.8")
@FLOAT_DTYPES
def test_cross_entropy_options_keep_the_input_dtype(dtype):
    x = np.zeros((4, 3), dtype=dtype)
    probs = np.full((4, 3), 1 / 3, dtype=dtype)
    weight = np.array([1.0, 2.0, 3.0])  # float64 weight must not upcast a float32 batch
    assert cross_entropy(x, np.array([0, 1, 2, 0]), weight=weight, label_smoothing=0.1).dtype == dtype
    assert cross_entropy(x, probs, weight=weight).dtype == dtype
    assert binary_cross_entropy_with_logits(x, probs, pos_weight=weight).dtype == dtype
    assert binary_cross_entropy(probs, probs, weight=weight).dtype == dtype


@FLOAT_DTYPES
@pytest.mark.parametrize("option", marked(["weight", "label_smoothing", "probabilities", "pos_weight", "bce_weight"],
                                           {"weight": ("04.3", "04.4"), "label_smoothing": ("04.3", "04.4", "04.5"),
                                            "probabilities": "04.6", "pos_weight": "04.8", "bce_weight": "04.7"}.get,
                                           ids=lambda o: o))
def test_gradients_with_options_keep_the_input_dtype(dtype, option):
    x = np.random.default_rng(11).normal(size=(4, 3)).astype(dtype)
    probs = np.full((4, 3), 1 / 3, dtype=dtype)
    weight = np.array([1.0, 2.0, 3.0])
    loss, target = {
        "weight": (CrossEntropyLoss(weight=weight), np.array([0, 1, 2, 0])),
        "label_smoothing": (CrossEntropyLoss(weight=weight, label_smoothing=0.1), np.array([0, 1, 2, 0])),
        "probabilities": (CrossEntropyLoss(weight=weight, label_smoothing=0.1), probs),
        "pos_weight": (BinaryCrossEntropyWithLogitsLoss(weight=weight, pos_weight=weight), probs),
        "bce_weight": (BinaryCrossEntropyLoss(weight=weight), probs),
    }[option]
    if option == "bce_weight":
        x = probs
    assert loss(x, target).dtype == dtype
    assert loss.backward().dtype == dtype


# ---------------------------------------------------------------- float16 sums are added in float32


@pytest.mark.task("04.1")
def test_float16_mse_mean_of_many_elements_does_not_overflow():
    # 100,000 squared errors of 1: the mean is 1 (the float16 sum, 100000, would be inf)
    out = mse_loss(np.full(100_000, 1, np.float16), np.zeros(100_000, np.float16))
    assert out.dtype == np.float16
    assert float(out.item()) == 1.0


@pytest.mark.task("04.7")
def test_float16_bce_mean_of_many_elements_is_log_2():
    # p = 0.5 against y = 1 costs log 2 each; dividing by 70,000 in float16 would divide by inf
    out = binary_cross_entropy(np.full(70_000, 0.5, np.float16), np.ones(70_000, np.float16))
    assert out.dtype == np.float16
    np.testing.assert_allclose(float(out.item()), math.log(2), rtol=1e-3)


@pytest.mark.task("04.8")
def test_float16_bce_with_logits_mean_of_many_elements_is_log_2():
    out = binary_cross_entropy_with_logits(np.zeros(70_000, np.float16), np.ones(70_000, np.float16))
    assert out.dtype == np.float16
    np.testing.assert_allclose(float(out.item()), math.log(2), rtol=1e-3)


@pytest.mark.parametrize("options", marked([{}, dict(weight=[1.0, 1.0]), dict(label_smoothing=0.2)],
                                            lambda o: ("04.3", "04.4") if "weight" in o else ("04.3", "04.5") if o else "04.3",
                                            ids=["plain", "weight", "smoothing"]))
def test_float16_cross_entropy_mean_over_many_rows_is_log_2(options):
    # two equal logits: every row costs log 2, whatever the smoothing; the count (or summed weight) is 70,000
    out = cross_entropy(np.zeros((70_000, 2), np.float16), np.zeros(70_000, np.int64), **options)
    assert out.dtype == np.float16
    np.testing.assert_allclose(float(out.item()), math.log(2), rtol=1e-3)


@pytest.mark.task("04.3")
def test_float16_cross_entropy_with_more_classes_than_float16_can_count():
    # 70,000 equal logits: each costs log 70000; the row sum of exponentials, 70000, overflows float16
    loss = CrossEntropyLoss()
    out = loss(np.zeros((2, 70_000), np.float16), np.array([0, 5]))
    np.testing.assert_allclose(float(out.item()), math.log(70_000), rtol=1e-3)
    grad = loss.backward().data
    assert grad.dtype == np.float16 and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[0, 0].astype(np.float64), (1 / 70_000 - 1) / 2, rtol=1e-3)


@pytest.mark.task("04.2")
def test_float16_log_softmax_with_more_classes_than_float16_can_count():
    out = log_softmax(np.zeros((2, 70_000), np.float16)).data
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float64), -math.log(70_000), rtol=1e-3)


@pytest.mark.task("04.6")
def test_float16_cross_entropy_probability_targets_over_many_rows():
    probs = np.full((70_000, 2), 0.5, np.float16)
    out = cross_entropy(np.zeros((70_000, 2), np.float16), probs)
    np.testing.assert_allclose(float(out.item()), math.log(2), rtol=1e-3)


# ---------------------------------------------------------------- input types


@_by_task
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


@pytest.mark.task("04.1")
def test_list_target_of_python_floats_is_read_in_the_float64_input_dtype():
    # through float32, 0.1 would become 0.10000000149 and the loss 7.2e-17
    assert mse_loss(np.array([0.1, 0.7]), [0.1, 0.7]).item() == 0.0
    assert mse_loss(np.array(0.1), 0.1).item() == 0.0


@pytest.mark.task("04.1", "04.6", "04.7", "04.8")
def test_list_targets_give_the_same_float64_loss_as_float64_arrays():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(3, 4)), rng.random((3, 4))
    p = rng.uniform(0.1, 0.9, size=(3, 4))
    probs = y / y.sum(axis=1, keepdims=True)
    cases = [
        (mse_loss, x, y, {}),
        (binary_cross_entropy, p, y, dict(weight=[0.5, 1.0, 2.0, 1.5])),
        (binary_cross_entropy_with_logits, x, y, dict(weight=[0.5, 1.0, 2.0, 1.5], pos_weight=[2.0, 1.0, 0.5, 3.0])),
        (cross_entropy, x, probs, dict(weight=[0.5, 1.0, 2.0, 1.5], label_smoothing=0.1)),
    ]
    for fn, inp, target, options in cases:
        from_array = fn(inp, target, reduction="none", **{k: np.array(v) if k != "label_smoothing" else v
                                                           for k, v in options.items()}).data
        from_list = fn(inp, target.tolist(), reduction="none", **options).data
        assert from_list.dtype == np.float64, fn.__name__
        np.testing.assert_array_equal(from_list, from_array, err_msg=fn.__name__)


@pytest.mark.task("04.2")
def test_log_softmax_accepts_tensor_array_and_list():
    x = [[0.0, 1.0], [2.0, 2.0]]
    expected = np.array([[-math.log1p(math.e), 1 - math.log1p(math.e)], [-math.log(2), -math.log(2)]])
    for given in (x, np.array(x), Tensor(np.array(x))):
        out = log_softmax(given)
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, expected, rtol=1e-6)


@pytest.mark.task("04.1")
def test_backward_accepts_array_grad_output_for_none():
    loss = MSELoss(reduction="none")
    loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(loss.backward(np.array([1.0, -1.0])).data, [2.0, -4.0], rtol=1e-15)


# ---------------------------------------------------------------- deliberate differences from PyTorch


@pytest.mark.task("04.3")
def test_integral_float_targets_are_class_indices():
    x = np.random.default_rng(5).normal(size=(3, 3))
    as_floats = cross_entropy(x, np.array([0.0, 2.0, 1.0]), reduction="none")
    as_ints = cross_entropy(x, np.array([0, 2, 1]), reduction="none")
    np.testing.assert_array_equal(as_floats.data, as_ints.data)
    assert as_floats.shape == (3,)


@pytest.mark.task("04.3")
def test_integral_float_targets_in_a_list_are_class_indices():
    x = np.random.default_rng(6).normal(size=(2, 3))
    np.testing.assert_array_equal(
        cross_entropy(x, [0.0, 2.0]).data, cross_entropy(x, np.array([0, 2])).data
    )


@pytest.mark.task("04.3")
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])
def test_any_integer_dtype_works_as_class_indices(dtype):
    x = np.random.default_rng(7).normal(size=(4, 3))
    expected = cross_entropy(x, np.array([0, 2, 1, 2], dtype=np.int64), reduction="none").data
    got = cross_entropy(x, np.array([0, 2, 1, 2], dtype=dtype), reduction="none").data
    np.testing.assert_array_equal(got, expected)


@pytest.mark.task("04.3", "04.4")
def test_integer_index_targets_and_their_gradient_do_not_depend_on_the_integer_dtype():
    x = np.random.default_rng(8).normal(size=(4, 3))
    grads = []
    for dtype in (np.int64, np.int32, np.uint8):
        loss = CrossEntropyLoss(weight=[1.0, 0.5, 2.0])
        loss(x, np.array([0, 2, 1, 2], dtype=dtype))
        grads.append(loss.backward().data)
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[2], grads[0])


@pytest.mark.task("04.7")
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


@pytest.mark.task("04.7", "04.8")
def test_bce_accepts_bool_targets_as_zero_and_one():
    p = np.array([0.2, 0.7, 0.9, 0.4], dtype=np.float32)
    hard = np.array([False, True, True, False])
    expected = binary_cross_entropy(p, hard.astype(np.float32), reduction="none").data
    np.testing.assert_array_equal(binary_cross_entropy(p, hard, reduction="none").data, expected)
    for loss in (BinaryCrossEntropyLoss(), BinaryCrossEntropyWithLogitsLoss()):
        assert loss(p, hard).dtype == np.float32
        assert loss.backward().dtype == np.float32


@pytest.mark.task("04.3", "04.6")
def test_float_one_hot_target_equals_class_indices():
    x = np.random.default_rng(13).normal(size=(3, 4))
    t = np.array([3, 0, 2])
    np.testing.assert_allclose(cross_entropy(x, np.eye(4)[t], reduction="none").data,
                               cross_entropy(x, t, reduction="none").data, rtol=1e-14)


@pytest.mark.task("04.3")
def test_nan_logit_propagates_to_the_loss():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    none = cross_entropy(x, np.array([0, 1]), reduction="none").data
    assert np.isnan(none[0])
    assert np.isfinite(none[1])
    assert np.isnan(float(cross_entropy(x, np.array([0, 1])).data))


@pytest.mark.task("04.1", "04.8")
def test_nan_input_propagates_through_mse_and_bce_with_logits():
    x = np.array([0.0, np.nan])
    y = np.array([0.0, 1.0])
    assert np.isnan(mse_loss(x, y, reduction="none").data).tolist() == [False, True]
    assert np.isnan(binary_cross_entropy_with_logits(x, y, reduction="none").data).tolist() == [False, True]


@pytest.mark.task("04.3", "04.4")
def test_all_targets_ignored_gives_nan_mean_and_zero_sum():
    x = np.random.default_rng(9).normal(size=(3, 4))
    t = np.full(3, -100)
    assert np.isnan(float(cross_entropy(x, t).data))
    assert float(cross_entropy(x, t, reduction="sum").data) == 0.0
    np.testing.assert_array_equal(cross_entropy(x, t, reduction="none").data, np.zeros(3))


@pytest.mark.task("04.3", "04.4")
def test_negative_ignore_index_value_is_skipped_not_range_checked():
    x = np.random.default_rng(10).normal(size=(3, 4))
    with_ignored = cross_entropy(x, np.array([1, -7, 3]), ignore_index=-7, reduction="none").data
    assert with_ignored[1] == 0.0
    expected = cross_entropy(x[[0, 2]], np.array([1, 3]), reduction="none").data
    np.testing.assert_allclose(with_ignored[[0, 2]], expected, rtol=1e-15)
