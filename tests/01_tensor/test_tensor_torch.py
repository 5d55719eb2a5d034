"""Tensor parity with PyTorch: values and result dtypes (skipped when torch is not installed)."""
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

torch = pytest.importorskip("torch")

DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64, np.dtype(np.int64): torch.int64,
          np.dtype(np.int32): torch.int32, np.dtype(np.bool_): torch.bool, np.dtype(np.uint8): torch.uint8}


def as_torch(x):
    return torch.from_numpy(np.array(x)) if isinstance(x, np.ndarray) else x


ARRAYS = {
    "f32": np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -2.0]], dtype=np.float32),
    "f64": np.array([[1.5, 2.0, -0.5], [0.5, 4.0, 1.0]], dtype=np.float64),
    "i64": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64),
    "i32": np.array([[1, -2, 3], [4, 5, 6]], dtype=np.int32),
    "u8": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8),
    "bool": np.array([[True, False, True], [False, True, True]]),
    "f64_0d": np.array(2.5),
    "f32_row": np.array([1.0, 2.0, 4.0], dtype=np.float32),
    "i64_0d": np.array(3),
}
OTHERS = list(ARRAYS) + ["py_int", "py_float", "py_bool"]
PY = {"py_int": 2, "py_float": 2.5, "py_bool": True}


def operand(name, wrap):
    if name in PY:
        return PY[name]
    return Tensor(ARRAYS[name]) if wrap == "ours" else torch.from_numpy(ARRAYS[name].copy())


LEFTS = ["f32", "f64", "i64", "i32", "u8", "bool", "f32_row", "f64_0d"]
# Deliberate difference: torch refuses every subtraction that involves a bool; we count a bool mixed with
# numbers as 0/1 and refuse only bool - bool (test_bool_subtraction in test_tensor.py).
OP_TASKS = {"add": "01.1", "sub": "01.2", "mul": "01.3", "truediv": "01.4", "+=": "01.1", "-=": "01.2", "*=": "01.3", "/=": "01.4"}
CASES = [(op, left, right) for op in ("add", "sub", "mul", "truediv") for left in LEFTS for right in OTHERS
         if not (op == "sub" and "bool" in (left, right.removeprefix("py_")))]


@pytest.mark.parametrize("op, left, right", [pytest.param(*c, marks=pytest.mark.task(OP_TASKS[c[0]])) for c in CASES])
def test_binary_ops_match_torch_in_value_and_dtype(op, left, right):
    import operator
    fn = getattr(operator, op)
    expected = fn(operand(left, "torch"), operand(right, "torch"))
    ours = fn(operand(left, "ours"), operand(right, "ours"))
    assert DTYPES[ours.dtype] == expected.dtype
    np.testing.assert_allclose(ours.data.astype(np.float64), expected.double().numpy(), rtol=1e-6)


@pytest.mark.task("01.5")
@pytest.mark.parametrize("name", ["f32", "f64", "i64"])
@pytest.mark.parametrize("exponent", [2, 0.5, 3.0])
def test_pow_matches_torch(name, exponent):
    x = np.abs(ARRAYS[name])
    ours, theirs = Tensor(x) ** exponent, torch.from_numpy(x.copy()) ** exponent
    assert DTYPES[ours.dtype] == theirs.dtype
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


@pytest.mark.task("01.7", "01.8", "01.9", "01.10", "01.11", "01.12")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_and_reductions_match_torch(dtype):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 5)).astype(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, (ta @ tb).numpy(), rtol=tol, atol=tol)
    for dim in (None, 0, 1, -1):
        kw = {} if dim is None else {"dim": dim}
        assert Tensor(a).sum(**kw).dtype == dtype
        np.testing.assert_allclose(Tensor(a).sum(**kw).data, ta.sum(**kw).numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(Tensor(a).mean(**kw).data, ta.mean(**kw).numpy(), rtol=tol, atol=tol)
        np.testing.assert_array_equal(Tensor(a).amax(**kw).data, ta.amax(**kw).numpy() if dim is not None else ta.max().numpy())
    np.testing.assert_allclose(Tensor(a).exp().data, ta.exp().numpy(), rtol=tol)
    np.testing.assert_allclose(Tensor(np.abs(a)).log().data, ta.abs().log().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("data", [1.5, 3, True, [1, 2.5], [[1, 2], [3, 4]], [], [True, False]])
def test_constructor_dtypes_match_torch_tensor(data):
    assert DTYPES[Tensor(data).dtype] == torch.tensor(data).dtype


@pytest.mark.task("01.8", "01.11")
def test_integer_reductions_match_torch():
    x = ARRAYS["i32"]
    assert DTYPES[Tensor(x).sum().dtype] == torch.from_numpy(x).sum().dtype
    assert DTYPES[Tensor(ARRAYS["bool"]).sum().dtype] == torch.from_numpy(ARRAYS["bool"]).sum().dtype
    assert DTYPES[Tensor(x).exp().dtype] == torch.from_numpy(x).exp().dtype


@pytest.mark.task("01.15")
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_matches_torch_with_ties_and_nan(dim, keepdims):
    x = np.array([[1.0, 3.0, 3.0, np.nan], [2.0, 2.0, -1.0, 0.0], [0.0, 5.0, 5.0, 5.0]])
    ours = Tensor(x).argmax(dim=dim, keepdims=keepdims)
    theirs = torch.from_numpy(x).argmax(dim=dim, keepdim=keepdims)
    assert ours.shape == tuple(theirs.shape) and ours.data.tolist() == theirs.tolist()


@pytest.mark.parametrize("op", [pytest.param(op, marks=pytest.mark.task(OP_TASKS[op])) for op in ["+=", "-=", "*=", "/="]])
@pytest.mark.parametrize("other", ["f64", "f32_row", "py_float", "py_int"])
def test_in_place_operators_match_torch(op, other):
    ours, theirs = Tensor(ARRAYS["f32"].copy()), torch.from_numpy(ARRAYS["f32"].copy())
    exec(f"ours {op} operand(other, 'ours')")
    exec(f"theirs {op} operand(other, 'torch')")
    assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
