"""The three runs on scikit-learn's bundled data sets (no download), with the notebook's settings: a fixed split and
seed, inputs standardised with the training set's statistics, the student's losses and optimizers."""
import time

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.training import DataLoader, TensorDataset, accuracy, fit, r2_score

datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")
SEED = 0


def _standardise(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def _prepare(load, classify):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        X, y, test_size=0.2, random_state=SEED, stratify=y if classify else None)
    return (*_standardise(X_train, X_test), y_train, y_test)


def _fit(model, loss_fn, optimizer, data, epochs, metric):
    X_train, X_test, y_train, y_test = data
    train = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True, generator=SEED)
    test = DataLoader(TensorDataset(X_test, y_test), batch_size=256)
    start = time.perf_counter()
    history = fit(model, loss_fn, optimizer, train, test, epochs=epochs, metric=metric)
    return history, time.perf_counter() - start


@pytest.mark.task("06.1", "06.2", "06.3", "06.4", "06.5")
def test_an_mlp_learns_the_digits_to_97_percent_test_accuracy_with_cross_entropy():
    data = _prepare(datasets.load_digits, classify=True)
    model = Sequential(Linear(64, 64, generator=SEED), ReLU(), Linear(64, 10, generator=SEED + 1))
    history, seconds = _fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3), data, 25, accuracy)
    print(f"digits: test accuracy {history['test_metric'][-1]:.4f} in {seconds:.2f} s")
    assert history["test_metric"][-1] >= 0.97
    assert model.parameters()[0].dtype == np.float32


@pytest.mark.task("06.1", "06.2", "06.3", "06.4", "06.5")
def test_an_mlp_classifies_breast_cancer_to_95_percent_with_bce_from_logits():
    X_train, X_test, y_train, y_test = _prepare(datasets.load_breast_cancer, classify=True)
    data = (X_train, X_test, y_train.astype(np.float32).reshape(-1, 1), y_test.astype(np.float32).reshape(-1, 1))
    model = Sequential(Linear(30, 16, generator=SEED), ReLU(), Linear(16, 1, generator=SEED + 1))
    history, seconds = _fit(model, BinaryCrossEntropyWithLogitsLoss(), AdamW(model.parameters(), lr=1e-3), data, 30,
                            accuracy)
    print(f"breast cancer: test accuracy {history['test_metric'][-1]:.4f} in {seconds:.2f} s")
    assert history["test_metric"][-1] >= 0.95


@pytest.mark.task("06.1", "06.2", "06.3", "06.4", "06.6")
def test_an_mlp_predicts_diabetes_progression_better_than_the_mean_with_mse():
    X_train, X_test, y_train, y_test = _prepare(datasets.load_diabetes, classify=False)
    y_train, y_test = _standardise(y_train.reshape(-1, 1), y_test.reshape(-1, 1))
    model = Sequential(Linear(10, 16, generator=SEED), ReLU(), Linear(16, 1, generator=SEED + 1))
    history, seconds = _fit(model, MSELoss(), SGD(model.parameters(), lr=0.003, momentum=0.9),
                            (X_train, X_test, y_train, y_test), 40, r2_score)
    print(f"diabetes: test R² {history['test_metric'][-1]:.4f} in {seconds:.2f} s")
    assert history["test_metric"][-1] > 0.2
    assert history["test_loss"][-1] < np.var(y_test)  # the mean squared error of predicting the test mean
