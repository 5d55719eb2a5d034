"""Tensor: construction and dtype rules, arithmetic with broadcasting, reductions, shapes, errors."""
import re

import numpy as np
import pytest
from checks import raises_naming
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.tensor import Tensor, _result_dtype

# ---------------------------------------------------------------- construction and dtypes


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        (3, np.int64),
        (True, np.bool_),
        ([1.0, 2.0], np.float32),
        ([1, 2.5], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        ([True, False], np.bool_),
        ((1, 2, 3), np.int64),
        ([], np.float32),
        (np.float64(2.0), np.float64),
        (np.int32(2), np.int32),
        ([np.float64(1.0), 2.0], np.float64),
    ],
)
def test_python_and_numpy_inputs_get_pytorch_dtypes(data, dtype):
    assert Tensor(data).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.uint8, np.bool_])
def test_numpy_array_keeps_its_dtype_and_memory(dtype):
    a = np.zeros((2, 3), dtype=dtype)
    t = Tensor(a)
    assert t.dtype == dtype and t.data is a


def test_changing_the_array_changes_the_tensor():
    a = np.zeros(3)
    t = Tensor(a)
    a[1] = 7.0
    assert t.data[1] == 7.0


def test_tensor_from_tensor_shares_data():
    t = Tensor([1.0, 2.0])
    assert Tensor(t).data is t.data


def test_dtype_argument_overrides():
    assert Tensor([1, 2], dtype="float64").dtype == np.float64
    assert Tensor(1.5, dtype=np.float16).dtype == np.float16
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32


def test_values_survive_construction():
    assert Tensor([[1, 2], [3, 4]]).data.tolist() == [[1, 2], [3, 4]]
    assert Tensor(2.5).data.shape == () and Tensor(2.5).item() == 2.5


def test_grad_defaults_to_none():
    assert Tensor([1.0]).grad is None


def test_properties():
    t = Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 24 and t.dtype == np.dtype("float32") and len(t) == 2


def test_numpy_returns_the_shared_array():
    t = Tensor([1.0, 2.0])
    assert t.numpy() is t.data


def test_item_returns_python_numbers():
    assert Tensor(3).item() == 3 and type(Tensor(3).item()) is int
    assert type(Tensor([2.5]).item()) is float
    assert float(Tensor(2.5)) == 2.5 and int(Tensor(4)) == 4


def test_array_protocol():
    t = Tensor([1, 2])
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    copied = np.array(t, copy=True)
    copied[0] = 99
    assert t.data[0] == 1


def test_repr_shows_values_and_dtype():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.], dtype=float32)"
    assert repr(Tensor(7)) == "Tensor(7, dtype=int64)"
    assert repr(Tensor([[1, 2], [3, 4]])) == "Tensor([[1, 2],\n        [3, 4]], dtype=int64)"


def test_iteration_yields_rows():
    rows = list(Tensor([[1, 2], [3, 4]]))
    assert [r.data.tolist() for r in rows] == [[1, 2], [3, 4]] and all(isinstance(r, Tensor) for r in rows)


def test_list_of_tensors_is_accepted():
    t = Tensor([Tensor(1.0), Tensor(2.0)])
    assert t.data.tolist() == [1.0, 2.0] and t.dtype == np.float32


# ---------------------------------------------------------------- construction errors


@pytest.mark.parametrize(
    "bad, error, pattern",
    [
        ("abc", TypeError, "'abc'"),
        (None, TypeError, "NoneType None"),
        ([1, None], TypeError, r"\[1, None\]"),
        (["a", "b"], TypeError, r"\['a', 'b'\]"),
        ([[1, 2], [3]], ValueError, r"ragged nested list \[\[1, 2\], \[3\]\]"),
        ([1, [2, 3]], ValueError, "ragged"),
        (np.array(["x"]), TypeError, "needs numbers"),
        (np.array([1, None], dtype=object), TypeError, "dtype object"),
        ({1: 2}, TypeError, "dict"),
        (2**70, ValueError, "does not fit in int64"),
        (1 + 2j, TypeError, "complex"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(bad, error, pattern):
    with pytest.raises(error, match=pattern):
        Tensor(bad)


def test_bad_dtype_is_refused():
    with pytest.raises(TypeError, match="'not-a-dtype'"):
        Tensor([1.0], dtype="not-a-dtype")
    with pytest.raises(TypeError, match="bool, integer and float"):
        Tensor([1.0], dtype=str)


def test_item_of_many_elements_fails():
    with pytest.raises(ValueError, match=re.escape("exactly one element, got shape (2,)")):
        Tensor([1.0, 2.0]).item()


def test_len_and_iter_of_0d_fail():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(Tensor(1.0))


def test_truth_value_of_many_elements_is_ambiguous():
    assert bool(Tensor([0.0])) is False and bool(Tensor(2)) is True
    with pytest.raises(ValueError, match=re.escape("shape (2,) is ambiguous")):
        bool(Tensor([1.0, 2.0]))


def test_array_without_copy_to_other_dtype_fails():
    with pytest.raises(ValueError, match="without a copy"):
        Tensor([1, 2]).__array__(dtype=np.float32, copy=False)


# ---------------------------------------------------------------- arithmetic, hand-computed


@pytest.mark.task("01.1", "01.2", "01.3", "01.4", "01.5", "01.6")
def test_elementwise_arithmetic_values():
    a, b = Tensor([1.0, 2.0, 3.0]), Tensor([4.0, 5.0, 8.0])
    assert (a + b).data.tolist() == [5.0, 7.0, 11.0]
    assert (a - b).data.tolist() == [-3.0, -3.0, -5.0]
    assert (a * b).data.tolist() == [4.0, 10.0, 24.0]
    assert (b / Tensor([2.0, 4.0, 8.0])).data.tolist() == [2.0, 1.25, 1.0]
    assert (a**2).data.tolist() == [1.0, 4.0, 9.0]
    assert (-a).data.tolist() == [-1.0, -2.0, -3.0]


@pytest.mark.task("01.1", "01.2", "01.3", "01.4", "01.5")
def test_reflected_operators_keep_operand_order():
    t = Tensor([1.0, 2.0, 4.0])
    assert (10 - t).data.tolist() == [9.0, 8.0, 6.0]
    assert (1 + t).data.tolist() == [2.0, 3.0, 5.0]
    assert (3 * t).data.tolist() == [3.0, 6.0, 12.0]
    assert (1 / t).data.tolist() == [1.0, 0.5, 0.25]
    assert (2**t).data.tolist() == [2.0, 4.0, 16.0]


@pytest.mark.task("01.1", "01.2", "01.3", "01.4", "01.7")
def test_numpy_array_on_the_left_gives_a_tensor():
    t = Tensor([1.0, 2.0])
    for result in (np.ones(2) + t, np.ones(2) - t, np.ones(2) * t, np.ones(2) / t, np.eye(2) @ t):
        assert isinstance(result, Tensor)
    assert (np.array([5.0, 5.0]) - t).data.tolist() == [4.0, 3.0]


@pytest.mark.task("01.1", "01.2")
def test_lists_are_accepted_as_operands():
    assert (Tensor([1, 2]) + [10, 20]).data.tolist() == [11, 22]
    assert ([10, 20] - Tensor([1, 2])).data.tolist() == [9, 18]


@pytest.mark.task("01.1", "01.3")
def test_broadcasting_hand_computed():
    col, row = Tensor([[1], [2]]), Tensor([10, 20, 30])
    assert (col + row).data.tolist() == [[11, 21, 31], [12, 22, 32]]
    assert (col * row).shape == (2, 3)


@pytest.mark.task("01.4", "01.11", "01.12")
def test_division_by_zero_follows_ieee_without_warning(recwarn):
    r = Tensor([1.0, -1.0, 0.0]) / Tensor([0.0, 0.0, 0.0])
    assert r.data[0] == np.inf and r.data[1] == -np.inf and np.isnan(r.data[2])
    assert Tensor([0.0]).log().item() == -np.inf
    assert Tensor(np.float32(100.0)).exp().item() == np.inf
    assert len(recwarn) == 0


@pytest.mark.task("01.7")
def test_matmul_hand_computed():
    A = Tensor([[1.0, 2.0], [3.0, 4.0]])
    B = Tensor([[5.0, 6.0], [7.0, 8.0]])
    assert (A @ B).data.tolist() == [[19.0, 22.0], [43.0, 50.0]]
    v = Tensor([1.0, -1.0])
    assert (A @ v).data.tolist() == [-1.0, -1.0]
    assert (v @ A).data.tolist() == [-2.0, -2.0]
    assert (v @ v).shape == () and (v @ v).item() == 2.0


@pytest.mark.task("01.7")
def test_batched_matmul_shapes():
    a, b = Tensor(np.ones((5, 2, 3))), Tensor(np.ones((3, 4)))
    r = a @ b
    assert r.shape == (5, 2, 4) and np.all(r.data == 3.0)


@pytest.mark.task("01.5")
def test_power_of_int_tensor():
    r = Tensor([1, 2, 3]) ** 2
    assert r.dtype == np.int64 and r.data.tolist() == [1, 4, 9]
    assert (Tensor([4, 9]) ** 0.5).data.tolist() == [2.0, 3.0]


# ---------------------------------------------------------------- dtype promotion


@pytest.mark.parametrize(
    "make, expected",
    [
        pytest.param(lambda: Tensor([1.0], dtype=np.float32) * 2.5, np.float32, marks=pytest.mark.task("01.3")),
        pytest.param(lambda: Tensor([1.0], dtype=np.float32) + 2, np.float32, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor([1.0], dtype=np.float64) * 2.5, np.float64, marks=pytest.mark.task("01.3")),
        pytest.param(lambda: Tensor([1, 2]) * 2.5, np.float32, marks=pytest.mark.task("01.3")),
        pytest.param(lambda: Tensor([1, 2]) + 2, np.int64, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor(np.array([1], dtype=np.int32)) + 5, np.int32, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor(np.array([1], dtype=np.uint8)) + 5, np.uint8, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor([1, 2]) / Tensor([2, 2]), np.float32, marks=pytest.mark.task("01.4")),
        pytest.param(lambda: Tensor([1, 2]) / 2, np.float32, marks=pytest.mark.task("01.4")),
        pytest.param(lambda: 1 / Tensor([1, 2]), np.float32, marks=pytest.mark.task("01.4")),
        pytest.param(lambda: Tensor([1, 2]) + Tensor([1.0, 2.0]), np.float32, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor(np.ones(2, np.float32)) + Tensor(np.ones(2, np.float64)), np.float64, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor(np.ones(2, np.float32)) + Tensor(np.float64(1.0)), np.float32, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor([1, 2]) + Tensor(np.float64(1.0)), np.float64, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor(np.ones(2, np.float32)) * np.float64(2.0), np.float32, marks=pytest.mark.task("01.3")),
        pytest.param(lambda: Tensor([True, False]) + 1, np.int64, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor([True, False]) + 1.5, np.float32, marks=pytest.mark.task("01.1")),
        pytest.param(lambda: Tensor([1, 2]) ** 2.5, np.float32, marks=pytest.mark.task("01.5")),
        pytest.param(lambda: Tensor(np.ones((2, 2), np.int64)) @ Tensor(np.ones((2, 2), np.float32)), np.float32, marks=pytest.mark.task("01.7")),
        pytest.param(lambda: -Tensor(np.ones(2, np.float16)), np.float16, marks=pytest.mark.task("01.6")),
    ],
)
def test_result_dtype_follows_pytorch(make, expected):
    assert make().dtype == np.dtype(expected)


@pytest.mark.task("01.1", "01.2", "01.3", "01.4", "01.5", "01.6", "01.7", "01.8", "01.9", "01.10", "01.11", "01.12", "01.13", "01.14")
def test_float32_stays_float32_through_every_operation():
    x = Tensor(np.array([[0.5, 1.5], [2.0, 3.0]], dtype=np.float32))
    results = [x + 1, x - 1.5, x * 2.5, x / 3, x**2, -x, x @ x, x.sum(), x.mean(dim=0), x.max(),
               x.exp(), x.log(), x.reshape(4), x.T, x[0]]
    assert all(r.dtype == np.float32 for r in results)


@pytest.mark.task("01.8")
def test_sum_of_integers_and_bools_is_int64():
    t = Tensor(np.array([100, 100, 100], dtype=np.int8))
    assert t.sum().dtype == np.int64 and t.sum().item() == 300
    assert Tensor([True, True, False]).sum().item() == 2


@pytest.mark.task("01.9")
def test_mean_of_integers_is_float32():
    m = Tensor([1, 2]).mean()
    assert m.dtype == np.float32 and m.item() == 1.5


@pytest.mark.task("01.10")
def test_max_of_integers_keeps_their_dtype():
    assert Tensor([3, 1]).max().dtype == np.int64


@pytest.mark.task("01.11")
def test_exp_of_integers_is_float32():
    assert Tensor([0, 1]).exp().dtype == np.float32


@pytest.mark.task("01.12")
def test_log_of_integers_is_float32():
    assert Tensor([1, 2]).log().dtype == np.float32


# ---------------------------------------------------------------- reductions


M = Tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])


@pytest.mark.task("01.8")
def test_sum_hand_computed():
    assert M.sum().item() == 21.0 and M.sum().shape == ()
    assert M.sum(dim=0).data.tolist() == [5.0, 7.0, 9.0]
    assert M.sum(dim=-1).data.tolist() == [9.0, 12.0]


@pytest.mark.task("01.9")
def test_mean_hand_computed():
    assert M.mean().item() == 3.5
    assert M.mean(dim=1).data.tolist() == [3.0, 4.0]


@pytest.mark.task("01.10")
def test_max_hand_computed():
    assert M.max().item() == 6.0
    assert M.amax(dim=0).data.tolist() == [4.0, 5.0, 6.0]
    assert M.amax(dim=1).data.tolist() == [5.0, 6.0]


@pytest.mark.parametrize("method, dim, shape", [
    pytest.param("sum", 1, (2, 1, 4), marks=pytest.mark.task("01.8")),
    pytest.param("sum", (0, -1), (1, 3, 1), marks=pytest.mark.task("01.8")),
    pytest.param("mean", (0, 2), (1, 3, 1), marks=pytest.mark.task("01.9")),
    pytest.param("amax", None, (1, 1, 1), marks=pytest.mark.task("01.10")),
])
def test_keepdims_keeps_reduced_dimensions_with_size_one(method, dim, shape):
    t = Tensor(np.ones((2, 3, 4)))
    assert getattr(t, method)(dim=dim, keepdims=True).shape == shape
    if dim == (0, -1):
        assert t.sum(dim=dim).shape == (3,)


@pytest.mark.parametrize("method", [pytest.param("sum", marks=pytest.mark.task("01.8")),
                                    pytest.param("mean", marks=pytest.mark.task("01.9")),
                                    pytest.param("amax", marks=pytest.mark.task("01.10"))])
def test_reductions_of_0d_tensor_accept_dim_0_and_minus_1(method):
    t = Tensor(5.0)
    assert getattr(t, method)(dim=0).item() == 5.0 and getattr(t, method)(dim=-1).item() == 5.0


@pytest.mark.task("01.10", "01.15")
def test_max_along_a_dim_gives_values_and_indices_as_pytorch():
    logits = Tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1]])
    values, indices = logits.max(1)  # the idiom `_, pred = logits.max(1)`, with a batch of two
    assert values.data.tolist() == [2.0, 1.5] and indices.data.tolist() == [1, 0]
    assert logits.max(dim=0).values.shape == (3,) and logits.max(dim=0, keepdims=True).indices.shape == (1, 3)


def test_max_along_several_dims_is_refused_naming_amax():
    with raises_naming(TypeError, r"dim must be one int, got \(0, 1\)", "amax"):
        Tensor(np.ones((2, 3))).max(dim=(0, 1))


@pytest.mark.task("01.4", "01.8", "01.15")
def test_comparisons_are_elementwise_bool_tensors_as_in_pytorch():
    logits, labels = Tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1]]), Tensor([1, 1])
    hits = logits.argmax(dim=1) == labels
    assert isinstance(hits, Tensor) and hits.dtype == np.bool_ and hits.data.tolist() == [True, False]
    assert (hits.sum() / 2).item() == 0.5
    t = Tensor([1.0, 2.0, 3.0])
    assert (t > 1.5).data.tolist() == [False, True, True] and (t <= 2).data.tolist() == [True, True, False]
    assert (t != np.array([1.0, 0.0, 3.0])).data.tolist() == [False, True, False] and (t >= 3).data.tolist()[-1]
    assert (t < [2, 2, 2]).data.tolist() == [True, False, False]
    assert (t == None) is False and (t != "a") is True  # noqa: E711  not array-like: identity, as Python's default
    assert {t: 1}[t] == 1  # still hashable, by identity


def test_comparing_shapes_that_do_not_broadcast_names_both():
    with raises_naming(ValueError, r"==: shapes \(3,\) and \(2,\) cannot be broadcast"):
        Tensor([1.0, 2.0, 3.0]) == Tensor([1.0, 2.0])


@pytest.mark.task("01.10")
def test_max_propagates_nan():
    assert np.isnan(Tensor([1.0, np.nan, 3.0]).max().item())


@pytest.mark.parametrize("method", ["sum", "mean", "amax"])
def test_reduction_dim_out_of_range_names_dim_and_shape(method):
    with pytest.raises(ValueError, match=re.escape("dim 2 is out of range for a tensor of shape (2, 3)")):
        getattr(Tensor(np.ones((2, 3))), method)(dim=2)
    with pytest.raises(ValueError, match=re.escape("dim -3 is out of range")):
        getattr(Tensor(np.ones((2, 3))), method)(dim=-3)


def test_reduction_dim_errors():
    with pytest.raises(TypeError, match="dim must be an int or a tuple of ints, got 'a'"):
        Tensor([1.0]).sum(dim="a")
    with pytest.raises(TypeError, match="dim must be an int"):
        Tensor([1.0]).sum(dim=True)
    with pytest.raises(ValueError, match="same dimension twice"):
        Tensor(np.ones((2, 3))).sum(dim=(1, -1))


@pytest.mark.task("01.10", "01.15")
def test_max_of_empty_fails():
    with pytest.raises(ValueError, match=re.escape("empty dimension (shape (0, 3)")):
        Tensor(np.zeros((0, 3))).max()
    assert Tensor(np.zeros((0, 3))).max(dim=1).values.shape == (0,) and Tensor(np.zeros((0, 3))).amax(dim=1).shape == (0,)


# ---------------------------------------------------------------- exp and log


@pytest.mark.task("01.11")
def test_exp_hand_computed():
    assert Tensor([0.0]).exp().item() == 1.0
    assert abs(Tensor(np.array([1.0])).exp().item() - np.e) < 1e-15


@pytest.mark.task("01.11")
def test_exp_underflows_and_overflows_quietly_even_when_numpy_is_told_to_raise():
    with np.errstate(all="raise"):
        assert Tensor([-800.0]).exp().item() == 0.0 and Tensor([800.0]).exp().item() == np.inf


@pytest.mark.task("01.12")
def test_log_hand_computed():
    assert Tensor([1.0]).log().item() == 0.0
    assert abs(Tensor(np.array([np.e])).log().item() - 1.0) < 1e-15
    assert np.isnan(Tensor([-1.0]).log().item())


# ---------------------------------------------------------------- shapes and indexing


@pytest.mark.task("01.13")
def test_reshape_is_row_major():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert t.reshape(3, 2).data.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert t.reshape((6,)).data.tolist() == [1, 2, 3, 4, 5, 6]
    assert t.reshape([2, -1]).shape == (2, 3)
    assert t.reshape(-1).shape == (6,)
    assert Tensor(5).reshape(1, 1).shape == (1, 1)


@pytest.mark.task("01.14")
def test_transpose_and_T():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert t.T.data.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert t.transpose().data.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert t.transpose(0, 1).data.tolist() == [[1, 4], [2, 5], [3, 6]]
    x = Tensor(np.arange(24).reshape(2, 3, 4))
    assert x.transpose().shape == (2, 4, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.transpose(0, 2).data[3, 1, 0] == x.data[0, 1, 3]
    v = Tensor([1, 2])
    assert v.T is v


@pytest.mark.task("01.14")
def test_transpose_is_a_view():
    t = Tensor(np.zeros((2, 3)))
    assert np.shares_memory(t.T.data, t.data)


def test_indexing():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert t[0].data.tolist() == [1, 2, 3]
    assert t[1, 2].item() == 6 and t[1, 2].shape == ()
    assert t[:, 1].data.tolist() == [2, 5]
    assert t[-1, ::-1].data.tolist() == [6, 5, 4]
    assert t[Tensor([1, 0])].data.tolist() == [[4, 5, 6], [1, 2, 3]]
    assert t[Tensor([True, False])].data.tolist() == [[1, 2, 3]]
    assert t[0, Tensor([0, 2])].data.tolist() == [1, 3]
    assert np.shares_memory(t[0].data, t.data)


def test_index_out_of_range_names_index_and_shape():
    with pytest.raises(IndexError, match=re.escape("index 5 is invalid for a tensor of shape (2, 3)")):
        Tensor(np.zeros((2, 3)))[5]


def test_reshape_errors():
    with pytest.raises(ValueError, match=re.escape("shape (2, 3) (6 elements) as shape (4, 2)")):
        Tensor(np.zeros((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match=re.escape("as shape (-1, -1)")):
        Tensor(np.zeros(6)).reshape(-1, -1)
    with pytest.raises(ValueError, match=re.escape("as shape (4, -1)")):
        Tensor(np.zeros(6)).reshape(4, -1)
    with pytest.raises(ValueError, match=re.escape("as shape (-2, -3)")):
        Tensor(np.zeros(6)).reshape(-2, -3)
    with pytest.raises(TypeError, match=re.escape("sizes must be ints, got (2.0, 3)")):
        Tensor(np.zeros(6)).reshape(2.0, 3)


def test_transpose_errors():
    with pytest.raises(ValueError, match=re.escape("dim -2 is out of range for a tensor of shape (3,)")):
        Tensor([1, 2, 3]).transpose()
    with pytest.raises(ValueError, match=re.escape("dim 3 is out of range")):
        Tensor(np.zeros((2, 2))).transpose(0, 3)
    with pytest.raises(ValueError, match=re.escape(".T is only defined for tensors with at most 2 dimensions, got shape (2, 2, 2)")):
        Tensor(np.zeros((2, 2, 2))).T


# ---------------------------------------------------------------- operation errors


@pytest.mark.parametrize("op, name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
                                      (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
                                      (lambda a, b: a**b, "pow")])
def test_broadcast_mismatch_names_both_shapes(op, name):
    with pytest.raises(ValueError, match=re.escape(f"{name}: shapes (2, 3) and (2,) cannot be broadcast")):
        op(Tensor(np.ones((2, 3))), Tensor(np.ones(2)))


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (2, 3) and (2, 4) do not fit")):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (3,) and (4,) do not fit")):
        Tensor(np.ones(3)) @ Tensor(np.ones(4))
    with pytest.raises(ValueError, match=re.escape("at least 1 dimension, got shapes (2,) and ()")):
        Tensor(np.ones(2)) @ 2.0
    with pytest.raises(ValueError, match=re.escape("batch dimensions of shapes (2, 2, 3) and (3, 3, 1)")):
        Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 1)))


@pytest.mark.task("01.5")
def test_integer_to_negative_power_is_refused():
    with pytest.raises(ValueError, match="negative integer powers"):
        Tensor([2, 3]) ** -1
    assert (Tensor([2.0]) ** -1).item() == 0.5


@pytest.mark.task("01.2")
def test_bool_subtraction():
    with pytest.raises(TypeError, match="cannot subtract bool tensors"):
        Tensor([True, False]) - Tensor([True, True])
    with pytest.raises(TypeError, match="cannot subtract bool tensors"):
        Tensor([True]) - True
    assert (Tensor([True, False]) - 1).data.tolist() == [0, -1]
    assert (Tensor([2.5]) - Tensor([True])).data.tolist() == [1.5]


def test_negating_bool_is_refused():
    with pytest.raises(TypeError, match="bool tensor cannot be negated"):
        -Tensor([True])


def test_bad_operand_is_refused():
    with pytest.raises(TypeError, match="'x'"):
        Tensor([1.0]) + "x"


# ---------------------------------------------------------------- properties (hypothesis)

float_elems = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@pytest.mark.task("01.1", "01.2", "01.3")
@settings(max_examples=60, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), data=st.data())
def test_elementwise_ops_agree_with_numpy_broadcasting(shapes, data):
    s1, s2 = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float32, s1, elements=float_elems))
    b = data.draw(hnp.arrays(np.float32, s2, elements=float_elems))
    for ours, theirs in [(Tensor(a) + Tensor(b), a + b), (Tensor(a) - Tensor(b), a - b),
                         (Tensor(a) * Tensor(b), a * b)]:
        assert ours.shape == shapes.result_shape and ours.dtype == np.float32
        np.testing.assert_array_equal(ours.data, theirs)


@pytest.mark.parametrize("method", [pytest.param("sum", marks=pytest.mark.task("01.8")),
                                    pytest.param("mean", marks=pytest.mark.task("01.9")),
                                    pytest.param("amax", marks=pytest.mark.task("01.10"))])
@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
                    elements=st.floats(-1e6, 1e6)), data=st.data())
def test_reductions_agree_with_numpy(method, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keep = data.draw(st.booleans())
    ours = getattr(Tensor(x), method)(dim=dim, keepdims=keep).data
    theirs = getattr(np, method)(x, axis=dim, keepdims=keep)
    if method == "amax":
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.task("01.7")
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5), data=st.data())
def test_matmul_matches_sum_of_products(n, k, m, data):
    ints = st.integers(-5, 5)
    a = data.draw(hnp.arrays(np.int64, (n, k), elements=ints))
    b = data.draw(hnp.arrays(np.int64, (k, m), elements=ints))
    expected = [[sum(int(a[i, p]) * int(b[p, j]) for p in range(k)) for j in range(m)] for i in range(n)]
    assert (Tensor(a) @ Tensor(b)).data.tolist() == expected


@pytest.mark.task("01.13", "01.14")
@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), elements=st.integers(-9, 9)))
def test_reshape_roundtrip_and_double_transpose_are_identity(x):
    t = Tensor(x)
    np.testing.assert_array_equal(t.reshape(-1).reshape(*x.shape).data, x)
    np.testing.assert_array_equal(t.transpose().transpose().data, x)
    np.testing.assert_array_equal(t.transpose(0, -1).data, np.swapaxes(x, 0, -1))


@pytest.mark.task("01.11", "01.12")
@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=st.floats(-20, 20)))
def test_log_inverts_exp(x):
    np.testing.assert_allclose(Tensor(x).exp().log().data, x, atol=1e-12)


def test_result_dtype_helper_tiers():
    f32, i64 = np.zeros(2, np.float32), np.zeros(2, np.int64)
    assert _result_dtype(f32, np.array(1.0)) == np.float32
    assert _result_dtype(i64, np.array(1.0)) == np.float64
    assert _result_dtype(i64, 1.5, 2) == np.float32


# ---------------------------------------------------------------- reading data: dtype=, subclasses, _as_float, _check_dim

from tinytorch.core.tensor import _as_float, _check_dim  # noqa: E402


def test_python_floats_with_an_explicit_dtype_are_read_in_that_dtype_not_through_float32():
    assert Tensor([0.1, 0.7], dtype="float64").data.tolist() == [0.1, 0.7]
    assert Tensor(0.1, dtype=np.float64).item() == 0.1


@pytest.mark.task("01.3")
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_np_matrix_is_read_as_the_plain_array_it_holds():
    t = Tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(t.data) is np.ndarray and t.shape == (2, 2)
    assert (t * t).data.tolist() == [[1.0, 4.0], [9.0, 16.0]]  # elementwise, not a matrix product


def test_masked_arrays_are_refused():
    with pytest.raises(TypeError, match=r"masked arrays.*filled"):
        Tensor(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))


def test_as_float_keeps_float_arrays_converts_the_rest_and_casts_when_asked():
    a = np.ones(3, np.float64)
    assert _as_float(a) is a and _as_float(Tensor(a)) is a
    assert _as_float(np.arange(3)).dtype == np.float32 and _as_float(True).dtype == np.float32
    assert _as_float([1, 2], default=np.float64).dtype == np.float64
    assert _as_float(0.1, np.float64) == 0.1 and _as_float(a, np.float16).dtype == np.float16
    with pytest.raises(TypeError, match="'x'"):
        _as_float("x")


@pytest.mark.parametrize("dim, shape, axis", [(-1, (2, 3), 1), (0, (2, 3), 0), (np.int64(1), (2, 3), 1),
                                              (0, (), 0), (-1, (), 0)])
def test_check_dim_normalises_a_valid_dim(dim, shape, axis):
    assert _check_dim(dim, shape, "op") == axis


@pytest.mark.parametrize("dim, error, pattern", [(2, ValueError, r"op: dim 2 is out of range for a tensor of shape \(2, 3\) \(valid: -2 to 1\)"),
                                                 (-3, ValueError, r"dim -3"), (1.0, TypeError, r"op: dim must be an int, got 1\.0"),
                                                 (True, TypeError, r"got True"), (None, TypeError, r"got None")])
def test_check_dim_refuses_with_the_value_and_the_range(dim, error, pattern):
    with pytest.raises(error, match=pattern):
        _check_dim(dim, (2, 3), "op")


# ---------------------------------------------------------------- in place, NumPy interplay, argmax, backward


@pytest.mark.parametrize("op, expected", [pytest.param("+=", [3.0, 4.0], marks=pytest.mark.task("01.1")),
                                          pytest.param("-=", [-1.0, 0.0], marks=pytest.mark.task("01.2")),
                                          pytest.param("*=", [2.0, 4.0], marks=pytest.mark.task("01.3")),
                                          pytest.param("/=", [0.5, 1.0], marks=pytest.mark.task("01.4"))])
def test_in_place_operators_change_the_tensor_itself_and_keep_its_dtype(op, expected):
    t = Tensor([1.0, 2.0])
    same, array = t, t.data
    exec(f"t {op} np.float64(2.0)")  # a float64 operand: the float32 tensor stays float32
    assert t is same and t.data is array and t.dtype == np.float32 and t.data.tolist() == expected


@pytest.mark.task("01.3")
def test_the_sgd_update_idiom_changes_a_parameter_that_a_layer_holds():
    holder = {"p": Tensor([1.0, 1.0])}
    holder["p"].grad = Tensor([0.5, -0.5])
    for p in holder.values():
        p -= 0.1 * p.grad
    assert holder["p"].data.tolist() == pytest.approx([0.95, 1.05])


@pytest.mark.task("01.3")
def test_array_in_place_update_with_a_tensor_operand_changes_the_array():
    p = Tensor(np.array([1.0, 2.0]))
    p.grad = Tensor(np.array([10.0, 10.0]))
    array = p.data
    p.data -= 0.1 * p.grad
    assert p.data is array and p.data.tolist() == [0.0, 1.0]


@pytest.mark.task("01.1")
def test_in_place_broadcasting_that_would_grow_the_tensor_is_refused():
    t = Tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=re.escape("the result has shape (2, 3), which does not fit in place into a tensor of shape (3,)")):
        t += Tensor([[1.0], [2.0]])
    assert t.data.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.task("01.1", "01.4")
def test_in_place_results_an_integer_tensor_cannot_hold_are_refused():
    t = Tensor([1, 2])
    with pytest.raises(TypeError, match="the result is float32, which a int64 tensor cannot hold"):
        t /= 2
    with pytest.raises(TypeError, match="float32"):
        t += 0.5
    t += 1  # int + int stays in place
    assert t.data.tolist() == [2, 3]


@pytest.mark.task("01.1")
def test_in_place_on_a_read_only_array_is_a_clear_error():
    a = np.zeros(2)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        t = Tensor(a)
        t += 1.0


@pytest.mark.task("01.2", "01.3", "01.7")
def test_ndarray_operator_tensor_is_the_tensor_operation():
    r = np.ones(2, np.float32) * Tensor([2, 3])
    assert isinstance(r, Tensor) and r.dtype == np.float32 and r.data.tolist() == [2.0, 3.0]
    r = np.array([1.0, 2.0]) - Tensor([1.0, 1.0], dtype="float64")
    assert isinstance(r, Tensor) and r.data.tolist() == [0.0, 1.0]
    assert isinstance(np.array([[1.0, 0.0], [0.0, 1.0]]) @ Tensor([1.0, 2.0]), Tensor)


def test_other_numpy_functions_on_a_tensor_name_the_fix():
    with pytest.raises(TypeError, match=r"np\.exp does not take a Tensor.*t\.numpy\(\)"):
        np.exp(Tensor([1.0]))


@pytest.mark.task("01.15")
@pytest.mark.parametrize("data, dim, keepdims, expected", [
    ([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]], 1, False, [1, 0]),      # a tie goes to the first
    ([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]], 0, False, [1, 1, 1]),
    ([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]], None, False, 3),
    ([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]], -1, True, [[1], [0]]),
    ([1.0, np.nan, 5.0], 0, False, 1),                            # NaN counts as the largest
    (4.0, None, False, 0),
])
def test_argmax(data, dim, keepdims, expected):
    out = Tensor(data).argmax(dim=dim, keepdims=keepdims)
    assert out.dtype == np.int64 and out.data.tolist() == expected


def test_argmax_errors():
    with pytest.raises(ValueError, match=re.escape("argmax: dim 2 is out of range")):
        Tensor([[1.0]]).argmax(dim=2)
    with pytest.raises(ValueError, match=re.escape("an empty tensor (shape (0, 3), dim=None)")):
        Tensor(np.zeros((0, 3))).argmax()
    with pytest.raises(ValueError, match=re.escape("an empty tensor (shape (0, 3), dim=0)")):
        Tensor(np.zeros((0, 3))).argmax(dim=0)


@pytest.mark.task("01.15")
def test_argmax_along_a_dimension_that_is_not_empty_of_an_empty_tensor_is_empty():
    out = Tensor(np.zeros((0, 3))).argmax(dim=1)
    assert out.shape == (0,) and out.dtype == np.int64


def test_tensor_backward_says_in_one_line_how_gradients_are_obtained():
    with pytest.raises(RuntimeError, match=r"loss_fn\.backward\(\).*model\.backward") as info:
        Tensor([1.0]).backward()
    assert "\n" not in str(info.value)
