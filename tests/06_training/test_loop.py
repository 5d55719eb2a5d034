"""The training loop, evaluation and the metrics: what each computes, what each leaves alone, and every error."""
import re

import numpy as np
import pytest
from checks import raises_naming
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import DataLoader, TensorDataset, accuracy, evaluate, fit, r2_score, train_epoch

SETTINGS = settings(max_examples=60, deadline=None)



def _classification(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)


def _mlp(seed=0):
    return Sequential(Linear(4, 8, dtype=np.float64, generator=seed), ReLU(), Linear(8, 3, dtype=np.float64, generator=seed + 1))


def _batches(x, y, size):
    """Batches as a plain list: train_epoch and evaluate take any iterable of (input, target) pairs, so their tests
    do not depend on the DataLoader's tasks."""
    return [(Tensor(x[i:i + size]), Tensor(y[i:i + size])) for i in range(0, len(x), size)]


def _by_hand(model, loss_fn, optimizer, loader):
    """The loop of train_epoch, written out: the reference for its effect and its return value."""
    losses, sizes = [], []
    for x, y in loader:
        optimizer.zero_grad()
        losses.append(loss_fn(model(x), y).item())
        model.backward(loss_fn.backward())
        optimizer.step()
        sizes.append(len(x))
    return float(np.dot(losses, sizes) / np.sum(sizes))


# ---------------------------------------------------------------- 06.3 train_epoch

@pytest.mark.task("06.3")
def test_train_epoch_takes_one_step_per_batch_exactly_as_the_loop_by_hand():
    x, y = _classification()
    ours, reference = _mlp(), _mlp()
    got = train_epoch(ours, CrossEntropyLoss(), SGD(ours.parameters(), lr=0.1, momentum=0.9), _batches(x, y, 5))
    expected = _by_hand(reference, CrossEntropyLoss(), SGD(reference.parameters(), lr=0.1, momentum=0.9), _batches(x, y, 5))
    assert got == expected
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert np.array_equal(a.data, b.data)


@pytest.mark.task("06.3")
def test_train_epoch_zeroes_the_gradients_before_each_backward():
    # with stale gradients the second batch's step would use the sum of two gradients
    x, y = _classification(8)
    ours, reference = _mlp(), _mlp()
    train_epoch(ours, CrossEntropyLoss(), SGD(ours.parameters(), lr=0.5), _batches(x, y, 4))
    _by_hand(reference, CrossEntropyLoss(), SGD(reference.parameters(), lr=0.5), _batches(x, y, 4))
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert np.array_equal(a.data, b.data) and np.array_equal(a.grad.data, b.grad.data)


@pytest.mark.task("06.3")
def test_train_epoch_returns_the_batch_losses_weighted_by_batch_size():
    # a model that cannot learn (lr 0): the epoch's loss is the mean over all samples, whatever the batching
    x, y = _classification(10)
    model = _mlp()
    whole = train_epoch(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), _batches(x, y, 10))
    pieces = train_epoch(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), _batches(x, y, 4))
    assert isinstance(pieces, float) and np.isclose(whole, pieces, rtol=1e-12)


@pytest.mark.task("06.3")
def test_repeated_epochs_lower_the_training_loss():
    x, y = _classification(60, seed=3)
    model = _mlp()
    optimizer = Adam(model.parameters(), lr=0.01)
    losses = [train_epoch(model, CrossEntropyLoss(), optimizer, _batches(x, y, 8)) for _ in range(30)]
    assert losses[-1] < 0.3 * losses[0]


def test_train_epoch_of_an_empty_loader_is_refused():
    model = _mlp()
    with raises_naming(ValueError, r"train_epoch: the loader gave no batches.*drop_last"):
        train_epoch(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), [])


# ---------------------------------------------------------------- 06.4 evaluate

@pytest.mark.task("06.4")
def test_evaluate_returns_the_mean_loss_and_every_output_and_target_in_order():
    x, y = _classification(11)
    model = _mlp()
    loss, output, target = evaluate(model, CrossEntropyLoss(), _batches(x, y, 4))
    expected = CrossEntropyLoss()(model(x), y).item()
    assert np.isclose(loss, expected, rtol=1e-12) and isinstance(loss, float)
    assert np.allclose(output.data, model(x).data, rtol=1e-12) and target.data.tolist() == y.tolist()


@pytest.mark.task("06.1", "06.2", "06.4", "06.5")
def test_evaluate_pairs_outputs_with_targets_even_when_the_loader_shuffles():
    x, y = _classification(11)
    model = _mlp()
    _, output, target = evaluate(model, CrossEntropyLoss(), DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=1))
    _, in_order, targets = evaluate(model, CrossEntropyLoss(), DataLoader(TensorDataset(x, y), batch_size=11))
    assert accuracy(output, target) == accuracy(in_order, targets)


@pytest.mark.task("06.4")
def test_evaluate_changes_nothing_and_keeps_the_training_forward():
    x, y = _classification(8)
    model, loss_fn = _mlp(), CrossEntropyLoss()
    before = model.state_dict()
    loss_fn(model(x[:3]), y[:3])                      # a training step's forward ...
    evaluate(model, loss_fn, _batches(x, y, 5))       # ... a look at other data ...
    model.backward(loss_fn.backward())                # ... and its backward: the gradient of the forward on x[:3]
    reference, reference_loss = _mlp(), CrossEntropyLoss()
    reference_loss(reference(x[:3]), y[:3])
    reference.backward(reference_loss.backward())
    for a, b in zip(model.parameters(), reference.parameters()):
        assert np.array_equal(a.grad.data, b.grad.data)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.task("06.4")
def test_evaluate_of_an_empty_loader_is_refused():
    with raises_naming(ValueError, r"evaluate: the loader gave no batches"):
        evaluate(_mlp(), CrossEntropyLoss(), [])


# ---------------------------------------------------------------- 06.5 accuracy

@pytest.mark.task("06.5")
def test_accuracy_of_class_logits_by_hand():
    logits = Tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    assert accuracy(logits, Tensor([0, 2, 1, 1])) == 0.75 and accuracy(logits.data, [0, 2, 0, 1]) == 1.0


@pytest.mark.task("06.5")
def test_accuracy_of_binary_logits_predicts_one_above_zero():
    assert accuracy(np.array([[1.5], [-0.2], [0.3], [0.0]]), np.array([[1.0], [0.0], [0.0], [0.0]])) == 0.75
    assert accuracy(np.array([3.0, -1.0]), np.array([1, 1])) == 0.5


@pytest.mark.task("06.5")
@SETTINGS
@given(logits=arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(2, 6)), elements=st.floats(-5, 5)),
       data=st.data())
def test_accuracy_is_the_fraction_of_argmax_hits_as_scikit_learn_counts_it(logits, data):
    metrics = pytest.importorskip("sklearn.metrics")
    target = data.draw(arrays(np.int64, logits.shape[:1], elements=st.integers(0, logits.shape[1] - 1)))
    assert accuracy(logits, target) == pytest.approx(metrics.accuracy_score(target, logits.argmax(axis=1)), abs=1e-15)


@pytest.mark.parametrize("output, target, named", [
    (np.zeros((4, 3)), np.zeros((4, 1)), r"output of shape \(4, 3\) and target of shape \(4, 1\)"),
    (np.zeros((4, 1)), np.zeros(4), r"output of shape \(4, 1\) and target of shape \(4,\)"),
    (np.zeros((4, 3)), np.zeros(5), r"\(4, 3\).*\(5,\)"),
])
def test_accuracy_refuses_shapes_that_do_not_match(output, target, named):
    with raises_naming(ValueError, r"^accuracy needs", named):
        accuracy(output, target)


def test_accuracy_of_nothing_is_refused():
    with raises_naming(ValueError, r"accuracy of no samples"):
        accuracy(np.zeros((0, 3)), np.zeros(0))


# ---------------------------------------------------------------- 06.6 r2_score

@pytest.mark.task("06.6")
def test_r2_score_by_hand():
    y = np.array([1.0, 2.0, 3.0, 6.0])
    assert r2_score(y, y) == 1.0 and r2_score(np.full(4, 3.0), y) == 0.0
    assert np.isclose(r2_score(Tensor([1.0, 3.0, 3.0, 5.0]), Tensor(y)), 1 - 2 / 14, rtol=1e-7)
    assert r2_score(np.full(4, 10.0), y) < 0 and isinstance(r2_score(y, y), float)


@pytest.mark.task("06.6")
@SETTINGS
@given(target=arrays(np.float64, st.integers(2, 20), elements=st.floats(-100, 100)), data=st.data())
def test_r2_score_agrees_with_scikit_learn(target, data):
    metrics = pytest.importorskip("sklearn.metrics")
    prediction = data.draw(arrays(np.float64, target.shape, elements=st.floats(-100, 100)))
    assume(np.ptp(target) > 1e-6)  # without a spread R^2 is undefined (scikit-learn and we differ on what to return)
    np.testing.assert_allclose(r2_score(prediction, target), metrics.r2_score(target, prediction), rtol=1e-9, atol=1e-9)


@pytest.mark.task("06.6")
def test_r2_score_is_the_same_on_standardised_targets():
    rng = np.random.default_rng(0)
    y, noise = rng.normal(150, 70, 50), rng.normal(0, 30, 50)
    standardise = lambda a: (a - y.mean()) / y.std()
    assert np.isclose(r2_score(y + noise, y), r2_score(standardise(y + noise), standardise(y)), rtol=1e-12)


def test_r2_score_refuses_mismatched_shapes_and_single_targets():
    with raises_naming(ValueError, r"same shape, got \(4, 1\) and \(4,\)"):
        r2_score(np.zeros((4, 1)), np.zeros(4))
    with raises_naming(ValueError, r"at least two targets.*got 1"):
        r2_score(np.zeros(1), np.zeros(1))
    with raises_naming(ValueError, r"targets that vary; every target is 3\.0"):
        r2_score(np.array([1.0, 2.0, 3.0]), np.full(3, 3.0))


# ---------------------------------------------------------------- fit

@pytest.mark.task("06.1", "06.2", "06.3", "06.4", "06.5")
def test_fit_records_one_entry_per_epoch_of_each_curve():
    x, y = _classification(20)
    model = _mlp()
    train = DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True, generator=0)
    test = DataLoader(TensorDataset(x, y), batch_size=20)
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.01), train, test, epochs=4, metric=accuracy)
    assert sorted(history) == ["test_loss", "test_metric", "train_loss"] and all(len(v) == 4 for v in history.values())
    assert history["test_loss"][-1] == pytest.approx(evaluate(model, CrossEntropyLoss(), test)[0])
    assert list(fit(model, CrossEntropyLoss(), Adam(model.parameters()), train, epochs=1)) == ["train_loss"]
    assert sorted(fit(model, CrossEntropyLoss(), Adam(model.parameters()), train, test)) == ["test_loss", "train_loss"]


@pytest.mark.parametrize("epochs", [0, -1, 2.0, True, "3"])
def test_fit_refuses_an_epoch_count_that_is_not_a_positive_int(epochs):
    model = _mlp()
    with raises_naming(ValueError, r"fit: epochs must be a positive int, got " + re.escape(repr(epochs))):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(np.zeros((2, 4)), [0, 1])), epochs=epochs)


@pytest.mark.task("06.1", "06.2", "06.3", "06.4")
@pytest.mark.parametrize("loss_fn, target", [(BinaryCrossEntropyWithLogitsLoss(), np.array([[1.0], [0.0], [1.0]])),
                                            (MSELoss(), np.array([[0.5], [-1.0], [2.0]]))])
def test_the_loop_works_with_every_loss_of_module_04(loss_fn, target):
    model = Sequential(Linear(2, 4, dtype=np.float64, generator=0), ReLU(), Linear(4, 1, dtype=np.float64, generator=1))
    loader = DataLoader(TensorDataset(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), target), batch_size=2)
    optimizer = Adam(model.parameters(), lr=0.05)
    losses = [train_epoch(model, loss_fn, optimizer, loader) for _ in range(3)]
    assert all(np.isfinite(losses)) and evaluate(model, loss_fn, loader)[1].shape == (3, 1)
