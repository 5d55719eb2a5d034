"""The same MLP, the same initial weights and the same batches, trained by tinytorch and by PyTorch: the same loss
at every step and the same final weights, in float64 to 1e-10, for each loss of module 04 and each optimizer of
module 05. Skipped without torch."""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.training import DataLoader, TensorDataset, evaluate

torch = pytest.importorskip("torch")

TOLERANCE = dict(rtol=1e-10, atol=1e-12)
OPTIMIZERS = {
    "SGD": (SGD, torch.optim.SGD, {"lr": 0.05}),
    "SGD-nesterov-wd": (SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    "Adam": (Adam, torch.optim.Adam, {"lr": 0.005}),
    "AdamW": (AdamW, torch.optim.AdamW, {"lr": 0.005, "weight_decay": 0.05}),
}
LOSSES = {
    "cross-entropy": (CrossEntropyLoss, torch.nn.CrossEntropyLoss, 4),
    "bce-with-logits": (BinaryCrossEntropyWithLogitsLoss, torch.nn.BCEWithLogitsLoss, 1),
    "mse": (MSELoss, torch.nn.MSELoss, 1),
}


def _data(loss, n=70, features=6):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, features))
    if loss == "cross-entropy":
        return x, rng.integers(0, 4, n)
    if loss == "bce-with-logits":
        return x, (x[:, :1] + 0.3 * rng.normal(size=(n, 1)) > 0).astype(np.float64)
    return x, np.sin(x[:, :1]) + 0.1 * rng.normal(size=(n, 1))


def _models(outputs, features=6, hidden=12):
    ours = Sequential(Linear(features, hidden, dtype=np.float64, generator=3), ReLU(),
                      Linear(hidden, hidden, dtype=np.float64, generator=4), Tanh(),
                      Linear(hidden, outputs, dtype=np.float64, generator=5))
    theirs = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                 torch.nn.Tanh(), torch.nn.Linear(hidden, outputs)).double()
    with torch.no_grad():  # the same initial weights
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            q.copy_(torch.from_numpy(p.data))
    return ours, theirs


@pytest.mark.task("06.1", "06.2", "06.4")
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_the_same_mlp_trained_by_tinytorch_and_torch_has_the_same_loss_curve(loss, optimizer):
    our_loss_class, torch_loss_class, outputs = LOSSES[loss]
    our_optimizer_class, torch_optimizer_class, options = OPTIMIZERS[optimizer]
    x, y = _data(loss)
    ours, theirs = _models(outputs)
    our_loss, torch_loss = our_loss_class(), torch_loss_class()
    our_optimizer = our_optimizer_class(ours.parameters(), **options)
    torch_optimizer = torch_optimizer_class(theirs.parameters(), **options)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=0)
    our_curve, torch_curve = [], []
    for _ in range(4):
        for xb, yb in loader:  # the batches of our loader, given to both
            our_optimizer.zero_grad()
            value = our_loss(ours(xb), yb)
            ours.backward(our_loss.backward())
            our_optimizer.step()
            our_curve.append(value.item())

            torch_optimizer.zero_grad()
            reference = torch_loss(theirs(torch.from_numpy(xb.data)), torch.from_numpy(yb.data))
            reference.backward()
            torch_optimizer.step()
            torch_curve.append(reference.item())
    assert len(our_curve) == 4 * 5
    np.testing.assert_allclose(our_curve, torch_curve, **TOLERANCE)
    assert our_curve[-1] < our_curve[0]
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **TOLERANCE)
    test_loss, output, _ = evaluate(ours, our_loss, DataLoader(TensorDataset(x, y), batch_size=32))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(output.data, expected.numpy(), **TOLERANCE)
    np.testing.assert_allclose(test_loss, torch_loss(expected, torch.from_numpy(y)).item(), **TOLERANCE)
