"""The elementwise student tasks on their own: each element's loss and its derivative, by hand and against
central differences of the loss itself (04.1 MSE, 04.7 BCE, 04.8 BCE with logits)."""
import numpy as np
import pytest
from gradcheck import numerical_grad

from tinytorch.core.losses import _bce_elements, _bce_with_logits_elements, _squared_error


def _derivative_matches_the_loss(elements, x, *others):
    loss, derivative = elements(x, *others)
    assert loss.shape == derivative.shape == x.shape
    numeric = numerical_grad(lambda z: elements(z, *others)[0].sum(), x.copy())
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.task("04.1")
def test_squared_error_is_the_square_of_the_difference_and_its_derivative_twice_the_difference():
    loss, derivative = _squared_error(np.array([3.0, -1.0, 0.5]), np.array([1.0, 1.0, 0.5]))
    assert loss.tolist() == [4.0, 4.0, 0.0] and derivative.tolist() == [4.0, -4.0, 0.0]


@pytest.mark.task("04.1")
def test_squared_error_derivative_matches_central_differences():
    rng = np.random.default_rng(0)
    _derivative_matches_the_loss(_squared_error, rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))


@pytest.mark.task("04.7")
def test_bce_elements_by_hand_and_clamped_at_100():
    with np.errstate(divide="ignore"):
        loss, derivative = _bce_elements(np.array([0.25, 0.0, 1.0]), np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(loss, [np.log(4.0), 100.0, 0.0])
    np.testing.assert_allclose(derivative, [-0.75 / 0.1875, -1e12, 0.0])


@pytest.mark.task("04.7")
def test_bce_elements_derivative_matches_central_differences():
    rng = np.random.default_rng(1)
    _derivative_matches_the_loss(_bce_elements, rng.uniform(0.05, 0.95, (3, 4)), rng.random((3, 4)))


@pytest.mark.task("04.8")
@pytest.mark.parametrize("pos_weight", [None, np.array([2.0, 0.5, 1.0, 3.0])], ids=["plain", "pos_weight"])
def test_bce_with_logits_elements_derivative_matches_central_differences(pos_weight):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3, 4)) * 3, rng.random((3, 4))
    pw = None if pos_weight is None else np.broadcast_to(pos_weight, x.shape)
    _derivative_matches_the_loss(_bce_with_logits_elements, x, y, pw)


@pytest.mark.task("04.8")
def test_bce_with_logits_elements_stay_finite_and_exact_at_large_logits():
    x, y = np.array([100.0, -100.0, 40.0]), np.array([0.0, 1.0, 1.0])
    loss, derivative = _bce_with_logits_elements(x, y, None)
    np.testing.assert_allclose(loss, [100.0, 100.0, np.exp(-40.0)], rtol=1e-12)
    np.testing.assert_allclose(derivative, [1.0, -1.0, 0.0], rtol=1e-12, atol=1e-15)  # sigmoid(40) - 1 rounds to 0
