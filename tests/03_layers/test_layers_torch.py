"""Linear and Sequential parity with PyTorch: outputs and gradients in float32 and float64 (skipped without torch)."""
import numpy as np
import pytest

from tinytorch.core.activations import Sigmoid, Tanh
from tinytorch.core.layers import Linear, Sequential

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def torch_copy(layer, dtype):
    ref = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=TORCH_DTYPE[dtype])
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        if layer.bias is not None:
            ref.bias.copy_(torch.from_numpy(layer.bias.data))
    return ref


@pytest.mark.task("03.1")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(6, 5), (5,), (2, 3, 5)], ids=["batch", "single", "3d"])
def test_linear_matches_torch(dtype, bias, shape):
    rng = np.random.default_rng(3)
    layer = Linear(5, 4, bias=bias, dtype=dtype, generator=9)
    ref = torch_copy(layer, dtype)
    x = rng.normal(size=shape).astype(dtype)
    g = rng.normal(size=shape[:-1] + (4,)).astype(dtype)

    y = layer(x)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.from_numpy(g))

    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(dx.data, tx.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(layer.weight.grad.data, ref.weight.grad.numpy(), **TOL[dtype])
    if bias:
        np.testing.assert_allclose(layer.bias.grad.data, ref.bias.grad.numpy(), **TOL[dtype])
    assert y.dtype == dtype and dx.dtype == dtype and layer.weight.grad.dtype == dtype


@pytest.mark.task("03.1", "03.2")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_matches_torch(dtype):
    rng = np.random.default_rng(4)
    ours = Sequential(Linear(4, 8, dtype=dtype, generator=1), Tanh(), Linear(8, 3, dtype=dtype, generator=2), Sigmoid())
    ref = torch.nn.Sequential(torch_copy(ours[0], dtype), torch.nn.Tanh(), torch_copy(ours[2], dtype), torch.nn.Sigmoid())
    x = rng.normal(size=(7, 4)).astype(dtype)
    g = rng.normal(size=(7, 3)).astype(dtype)

    y = ours(x)
    dx = ours.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.from_numpy(g))

    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(dx.data, tx.grad.numpy(), **TOL[dtype])
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("in_features", [3, 16, 400])
def test_initialisation_bound_matches_torch(in_features):
    torch.manual_seed(0)
    ref = torch.nn.Linear(in_features, 2000)
    ours = Linear(in_features, 2000, generator=0)
    bound = 1 / np.sqrt(in_features)
    for theirs, mine in [(ref.weight.detach().numpy(), ours.weight.data), (ref.bias.detach().numpy(), ours.bias.data)]:
        # both fill the same interval: same largest magnitude (within sampling noise) and same variance
        assert np.abs(theirs).max() <= bound + 1e-7 and np.abs(mine).max() <= bound
        assert np.abs(theirs).max() > 0.99 * bound and np.abs(mine).max() > 0.99 * bound
        assert abs(mine.var() / theirs.var() - 1) < 0.1
