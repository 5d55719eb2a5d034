"""Activations parity with PyTorch: values and gradients in float32 and float64 (skipped without torch)."""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU, Sigmoid, Softmax, Tanh

torch = pytest.importorskip("torch")

CASES = [
    ("relu", ReLU, lambda t: torch.relu(t)),
    ("sigmoid", Sigmoid, torch.sigmoid),
    ("tanh", Tanh, torch.tanh),
    ("softmax-last", lambda: Softmax(-1), lambda t: torch.softmax(t, dim=-1)),
    ("softmax-0", lambda: Softmax(0), lambda t: torch.softmax(t, dim=0)),
    ("softmax-1", lambda: Softmax(1), lambda t: torch.softmax(t, dim=1)),
]
CASE_TASKS = {"relu": "02.1", "sigmoid": "02.2", "tanh": "02.3", "softmax": "02.4"}
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


@pytest.mark.parametrize("name, make, reference", [pytest.param(*c, id=c[0], marks=pytest.mark.task(CASE_TASKS[c[0].split("-")[0]])) for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_values_and_gradients_match_torch(name, make, reference, dtype, scale):
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(3, 4, 5)) * scale).astype(dtype)
    g = rng.normal(size=(3, 4, 5)).astype(dtype)
    act = make()
    y = act(x)
    dx = act.backward(g)

    tx = torch.tensor(x, requires_grad=True)
    ty = reference(tx)
    ty.backward(torch.tensor(g))

    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(dx.data, tx.grad.numpy(), **TOL[dtype])


@pytest.mark.task("02.2", "02.3", "02.4")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extremes_match_torch(dtype):
    x = np.array([[-1000.0, -88.0, -20.0, 0.0, 20.0, 88.0, 1000.0]], dtype=dtype)
    for make, reference in [(Sigmoid, torch.sigmoid), (Softmax, lambda t: torch.softmax(t, -1)), (Tanh, torch.tanh)]:
        act = make()
        tx = torch.tensor(x, requires_grad=True)
        ty = reference(tx)
        ty.backward(torch.ones_like(ty))
        np.testing.assert_allclose(act(x).data, ty.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(act.backward(np.ones_like(x)).data, tx.grad.numpy(), **TOL[dtype])
