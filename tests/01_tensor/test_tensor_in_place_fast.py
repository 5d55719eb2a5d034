"""The in-place operators write straight into the tensor's array when the other operand already has its dtype and
shape (the update p -= lr * p.grad): the same numbers as the ordinary operation, and every rule kept."""
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("symbol", ["+=", "-=", "*="])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("as_tensor", [True, False], ids=["tensor", "array"])
def test_an_operand_of_the_same_dtype_and_shape_gives_the_ordinary_operations_numbers(symbol, dtype, as_tensor):
    a, b = RNG.normal(size=(4, 3)).astype(dtype), RNG.normal(size=(4, 3)).astype(dtype)
    ordinary = {"+=": a + b, "-=": a - b, "*=": a * b}[symbol]
    t, array = Tensor(a.copy()), None
    array = t.data
    other = Tensor(b) if as_tensor else b
    result = {"+=": t.__iadd__, "-=": t.__isub__, "*=": t.__imul__}[symbol](other)
    assert result is t and t.data is array and t.dtype == dtype
    np.testing.assert_array_equal(t.data, ordinary)


def test_the_operand_may_be_the_tensor_itself():
    t = Tensor(np.array([1.0, 2.0], np.float32))
    t -= t
    t += Tensor(np.array([3.0, 4.0], np.float32))
    t *= t
    assert t.data.tolist() == [9.0, 16.0]


@pytest.mark.task("01.2")
def test_a_read_only_array_is_still_refused():
    a = np.ones(3, np.float32)
    a.flags.writeable = False
    t = Tensor(a)
    with pytest.raises(ValueError, match="read-only"):
        t -= Tensor(np.ones(3, np.float32))
    assert a.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.task("01.1")
def test_an_integer_tensor_with_a_float_operand_is_still_refused():
    t = Tensor(np.array([1, 2], np.int64))
    with pytest.raises(TypeError, match="cannot hold"):
        t += Tensor(np.array([0.5, 0.5], np.float32))
    assert t.data.tolist() == [1, 2]


@pytest.mark.task("01.3")
def test_an_operand_that_broadcasts_larger_is_still_refused():
    t = Tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="does not fit in place"):
        t *= Tensor(np.ones((2, 3), np.float32))
