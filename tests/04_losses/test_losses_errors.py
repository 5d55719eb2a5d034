"""Every bad input in the contract gives a clear error that names the actual values or shapes.

Messages are matched on the values and shapes they must contain, not on their exact wording.
"""
import re

import numpy as np
import pytest
from checks import raises_naming
from loss_cases import LOSS_CLASSES, by_task

from tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
)
from tinytorch.core.tensor import Tensor

INDEX_ERRORS = (IndexError, ValueError)
FUNCTIONS = [mse_loss, cross_entropy, binary_cross_entropy, binary_cross_entropy_with_logits]
FORMS = ["function", "class"]



def _cross_entropy(form, logits, target, **options):
    if form == "function":
        return cross_entropy(logits, target, **options)
    return CrossEntropyLoss(**options)(logits, target)


def _bce(form, p, y, **options):
    if form == "function":
        return binary_cross_entropy(p, y, **options)
    return BinaryCrossEntropyLoss(**options)(p, y)


def _bce_logits(form, x, y, **options):
    if form == "function":
        return binary_cross_entropy_with_logits(x, y, **options)
    return BinaryCrossEntropyWithLogitsLoss(**options)(x, y)


def _mse(form, x, y, **options):
    if form == "function":
        return mse_loss(x, y, **options)
    return MSELoss(**options)(x, y)


# ---------------------------------------------------------------- class indices


@pytest.mark.parametrize("form", FORMS)
def test_class_index_above_range_names_index_and_valid_range(form):
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"\b7\b"):
        _cross_entropy(form, np.zeros((4, 3)), np.array([0, 7, 1, 2]))


@pytest.mark.parametrize("form", FORMS)
def test_class_index_equal_to_num_classes_is_out_of_range(form):
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)"):
        _cross_entropy(form, np.zeros((2, 3)), np.array([3, 0]))


@pytest.mark.parametrize("form", FORMS)
def test_minus_one_is_out_of_range_when_it_is_not_the_ignore_index(form):
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"-1\b"):
        _cross_entropy(form, np.zeros((2, 3)), np.array([-1, 0]))


@pytest.mark.parametrize("form", FORMS)
def test_an_ignore_index_with_probability_targets_is_refused_as_in_pytorch(form):
    probabilities = np.array([[0.2, 0.8, 0.0], [1.0, 0.0, 0.0]])
    with raises_naming(ValueError, r"ignore_index=0 needs class-index targets", "-100"):
        _cross_entropy(form, np.zeros((2, 3)), probabilities, ignore_index=0)


def test_negative_index_other_than_ignore_index_is_out_of_range():
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"-5\b"):
        cross_entropy(np.zeros((3, 3)), np.array([0, -5, -1]), ignore_index=-1)


def test_ignore_index_inside_range_does_not_excuse_other_out_of_range_indices():
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"\b4\b"):
        cross_entropy(np.zeros((3, 3)), np.array([2, 4, 0]), ignore_index=2)


def test_k_dimensional_index_out_of_range_names_range():
    target = np.zeros((2, 4), dtype=np.int64)
    target[1, 2] = 9
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"\b9\b"):
        cross_entropy(np.zeros((2, 3, 4)), target)


def test_unbatched_index_out_of_range_names_range():
    with raises_naming(INDEX_ERRORS, r"\[0, 3\)", r"\b5\b"):
        cross_entropy(np.zeros(3), np.array(5))


@pytest.mark.parametrize("form", FORMS)
def test_non_integral_float_target_is_rejected_naming_the_value(form):
    with raises_naming(ValueError, r"1\.7"):
        _cross_entropy(form, np.zeros((3, 3)), np.array([0.0, 1.7, 2.0]))


# ---------------------------------------------------------------- cross entropy shapes and options


@pytest.mark.parametrize("form", FORMS)
def test_rank_zero_logits_are_rejected(form):
    with pytest.raises(ValueError, match=r"(?i)\(\)|0-d|0 ?dim|rank|scalar|ndim|dimension"):
        _cross_entropy(form, np.array(1.0), np.array(0))


@pytest.mark.parametrize("form", FORMS)
def test_batch_size_mismatch_names_both_shapes(form):
    with raises_naming(ValueError, r"\(4, 3\)", r"\(5,\)"):
        _cross_entropy(form, np.zeros((4, 3)), np.array([0, 1, 2, 0, 1]))


def test_k_dimensional_target_shape_mismatch_names_both_shapes():
    with raises_naming(ValueError, r"\(2, 3, 4\)", r"\(2, 5\)"):
        cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 5), dtype=np.int64))


def test_probability_target_of_wrong_shape_names_both_shapes():
    target = np.full((4, 2), 0.5)
    with raises_naming(ValueError, r"\(4, 3\)", r"\(4, 2\)"):
        cross_entropy(np.zeros((4, 3)), target)


@pytest.mark.parametrize("form", FORMS)
def test_weight_of_wrong_length_names_its_length_and_num_classes(form):
    with raises_naming(ValueError, r"\b2\b", r"\b3\b"):
        _cross_entropy(form, np.zeros((4, 3)), np.array([0, 1, 2, 0]), weight=np.array([1.0, 2.0]))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("smoothing, shown", [(-0.1, r"-0\.1"), (1.5, r"1\.5")])
def test_label_smoothing_outside_unit_interval_is_rejected(form, smoothing, shown):
    with raises_naming(ValueError, shown):
        _cross_entropy(form, np.zeros((2, 3)), np.array([0, 1]), label_smoothing=smoothing)


# ---------------------------------------------------------------- reduction


@pytest.mark.parametrize("cls", LOSS_CLASSES, ids=lambda c: c.__name__)
def test_unknown_reduction_fails_at_construction_listing_valid_values(cls):
    with raises_naming(ValueError, r"avg", r"mean", r"sum", r"none"):
        cls(reduction="avg")


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_unknown_reduction_in_functional_form_is_rejected(fn):
    x = np.full((2, 3), 0.5)
    target = np.array([0, 1]) if fn is cross_entropy else np.full((2, 3), 0.5)
    with raises_naming(ValueError, r"avg", r"mean", r"sum", r"none"):
        fn(x, target, reduction="avg")


# ---------------------------------------------------------------- MSE


@pytest.mark.parametrize("form", FORMS)
def test_mse_column_against_flat_target_names_both_shapes(form):
    with raises_naming(ValueError, r"\(4, 1\)", r"\(4,\)"):
        _mse(form, np.zeros((4, 1)), np.zeros(4))


def test_mse_transposed_target_names_both_shapes():
    with raises_naming(ValueError, r"\(2, 3\)", r"\(3, 2\)"):
        mse_loss(np.zeros((2, 3)), np.zeros((3, 2)))


# ---------------------------------------------------------------- BCE


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("bad, shown", [(1.5, r"1\.5"), (-0.5, r"-0\.5"), (np.nan, r"(?i)nan")])
def test_bce_input_outside_unit_interval_is_rejected(form, bad, shown):
    p = np.array([0.2, bad, 0.7])
    with raises_naming(ValueError, shown):
        _bce(form, p, np.array([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("bad, shown", [(1.25, r"1\.25"), (-0.25, r"-0\.25"), (np.nan, r"(?i)nan")])
def test_bce_target_outside_unit_interval_is_rejected(form, bad, shown):
    y = np.array([0.0, bad, 1.0])
    with raises_naming(ValueError, shown):
        _bce(form, np.array([0.2, 0.5, 0.7]), y)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("which", ["input", "target"])
def test_a_float16_value_outside_the_unit_interval_is_named_as_float16_shows_it(form, which):
    # the checks run on the float16 numbers, before the forward widens them to float32 (1.1 would show as 1.0996094)
    bad, good = np.array([0.5, 1.1], np.float16), np.array([0.5, 0.5], np.float16)
    with raises_naming(ValueError, r"got 1\.1 ", which):
        _bce(form, *((bad, good) if which == "input" else (good, bad)))


@pytest.mark.parametrize("form", FORMS)
def test_bce_shape_mismatch_names_both_shapes(form):
    with raises_naming(ValueError, r"\(4, 1\)", r"\(4,\)"):
        _bce(form, np.full((4, 1), 0.5), np.ones(4))


@pytest.mark.parametrize("form", FORMS)
def test_bce_weight_that_does_not_broadcast_names_both_shapes(form):
    with raises_naming(ValueError, r"\(2,\)", r"\(4, 3\)"):
        _bce(form, np.full((4, 3), 0.5), np.ones((4, 3)), weight=np.ones(2))


# ---------------------------------------------------------------- BCE with logits


@pytest.mark.parametrize("form", FORMS)
def test_bce_with_logits_shape_mismatch_names_both_shapes(form):
    with raises_naming(ValueError, r"\(2, 3\)", r"\(3, 2\)"):
        _bce_logits(form, np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("option", ["weight", "pos_weight"])
def test_bce_with_logits_weights_that_do_not_broadcast_name_both_shapes(form, option):
    with raises_naming(ValueError, r"\(2,\)", r"\(4, 3\)"):
        _bce_logits(form, np.zeros((4, 3)), np.ones((4, 3)), **{option: np.ones(2)})


# ---------------------------------------------------------------- backward

_EXAMPLES = {
    MSELoss: (np.zeros((4, 3)), np.ones((4, 3))),
    CrossEntropyLoss: (np.zeros((4, 3)), np.array([0, 1, 2, 0])),
    BinaryCrossEntropyLoss: (np.full((4, 3), 0.5), np.ones((4, 3))),
    BinaryCrossEntropyWithLogitsLoss: (np.zeros((4, 3)), np.ones((4, 3))),
}


@pytest.mark.parametrize("cls", LOSS_CLASSES, ids=lambda c: c.__name__)
def test_backward_before_forward_raises_runtime_error(cls):
    with pytest.raises(RuntimeError, match=r"(?i)forward"):
        cls().backward()


@pytest.mark.parametrize("cls", by_task())
def test_grad_output_of_wrong_shape_for_none_reduction_names_both_shapes(cls):
    x, target = _EXAMPLES[cls]
    loss = cls(reduction="none")
    out = loss(x, target)
    expected_shape = re.escape(str(tuple(np.shape(out.data))))
    with raises_naming(ValueError, r"\(2, 2\)", expected_shape):
        loss.backward(Tensor(np.ones((2, 2))))


# ---------------------------------------------------------------- target dtypes for cross entropy


@pytest.mark.parametrize("form", FORMS)
def test_integer_target_of_the_logits_shape_is_refused_naming_shapes_and_dtype(form):
    # torch refuses it too; taken as probabilities it would give a meaningless number
    with raises_naming(ValueError, r"int64", r"\(3,\)", r"\(\)", r"(?i)float"):
        _cross_entropy(form, np.zeros(3), np.array([2, 0, 1], dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_integer_one_hot_of_the_logits_shape_is_refused(dtype):
    with raises_naming(ValueError, np.dtype(dtype).name, r"\(2, 3\)", r"\(2,\)"):
        cross_entropy(np.zeros((2, 3)), np.eye(3, dtype=dtype)[[2, 0]])


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("target", [[True, False], np.array([True, False]), np.ones((2, 3), dtype=bool)],
                         ids=["list", "array", "logits-shape"])
def test_bool_cross_entropy_target_is_refused_naming_the_dtype(form, target):
    with raises_naming(ValueError, r"bool"):
        _cross_entropy(form, np.zeros((2, 3)), target)


# ---------------------------------------------------------------- option types


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("smoothing, shown", [("0.1", r"'0\.1'"), (None, r"None"), ([0.1], r"\[0\.1\]"), (True, r"True")])
def test_label_smoothing_that_is_not_a_number_is_a_type_error_naming_it(form, smoothing, shown):
    with raises_naming(TypeError, shown, r"\[0, 1\]"):
        _cross_entropy(form, np.zeros((2, 3)), np.array([0, 1]), label_smoothing=smoothing)


def test_label_smoothing_nan_is_rejected():
    with raises_naming(ValueError, r"nan"):
        CrossEntropyLoss(label_smoothing=float("nan"))


def test_label_smoothing_accepts_numpy_numbers():
    assert CrossEntropyLoss(label_smoothing=np.float32(0.25)).label_smoothing == 0.25


@pytest.mark.parametrize("dim, shown", [(None, r"None"), (1.0, r"1\.0"), ("1", r"'1'"), (True, r"True")])
def test_log_softmax_dim_that_is_not_an_int_is_a_type_error_naming_it(dim, shown):
    with raises_naming(TypeError, shown, r"dim must be an int"):
        log_softmax(np.zeros((2, 3)), dim=dim)


@pytest.mark.parametrize("dim", [2, -3, 7])
def test_log_softmax_dim_out_of_range_names_dim_and_the_valid_range(dim):
    with raises_naming(ValueError, rf"dim {dim}\b", r"\(2, 3\)", r"valid: -2 to 1"):
        log_softmax(np.zeros((2, 3)), dim=dim)


@pytest.mark.task("04.2")
def test_log_softmax_accepts_numpy_integer_dim():
    np.testing.assert_allclose(log_softmax(np.zeros((2, 4)), dim=np.int64(1)).data, -np.log(4), rtol=1e-15)


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("cls", by_task())
def test_second_backward_for_one_forward_is_a_runtime_error(cls):
    x, target = _EXAMPLES[cls]
    loss = cls()
    loss(x, target)
    loss.backward()
    with raises_naming(RuntimeError, rf"{cls.__name__}\.backward\(\) was already called", r"second time"):
        loss.backward()
