"""The update rules of module 05, one task each: hand-computed values, in-place updates, dtypes, and properties
that hold for every input (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinytorch.core.optimizers import (
    SGD,
    Adam,
    AdamW,
    adam_moments,
    adam_step,
    bias_correction,
    decoupled_weight_decay,
    l2_penalty,
    momentum_buffer,
    nesterov_direction,
    sgd_step,
)
from tinytorch.core.tensor import Tensor

SETTINGS = settings(max_examples=50, deadline=None)
_value = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
_vectors = arrays(np.float64, st.integers(1, 6), elements=_value)
_fraction = st.floats(0.0, 0.99, allow_nan=False)
_rate = st.floats(1e-4, 1.0, allow_nan=False)
_nonzero = st.one_of(st.floats(1e-3, 10.0), st.floats(-10.0, -1e-3))


def _fixed(size, elements=_value):
    return arrays(np.float64, size, elements=elements)


# ---------------------------------------------------------------- 05.1 sgd_step

@pytest.mark.task("05.1")
def test_sgd_step_moves_against_the_direction_in_place():
    param = np.array([1.0, -2.0, 0.5])
    same = param
    assert sgd_step(param, np.array([2.0, -1.0, 0.0]), 0.25) is None
    assert param is same and param.tolist() == [0.5, -1.75, 0.5]


@pytest.mark.task("05.1")
def test_sgd_step_keeps_float32_and_leaves_the_direction_alone():
    param, direction = np.ones(4, np.float32), np.full(4, 3.0, np.float32)
    sgd_step(param, direction, 0.1)
    assert param.dtype == np.float32 and np.allclose(param, 0.7) and direction.tolist() == [3.0] * 4


@pytest.mark.task("05.1")
@SETTINGS
@given(param=_vectors, lr=_rate, data=st.data())
def test_sgd_step_is_param_minus_lr_times_direction(param, lr, data):
    direction = data.draw(arrays(np.float64, param.shape, elements=_value))
    expected = param - lr * direction
    sgd_step(param, direction, lr)
    np.testing.assert_array_equal(param, expected)


# ---------------------------------------------------------------- 05.2 l2_penalty

@pytest.mark.task("05.2")
def test_l2_penalty_adds_weight_decay_times_param_as_a_new_array():
    grad, param = np.array([1.0, 0.0, -1.0]), np.array([2.0, -4.0, 10.0])
    out = l2_penalty(grad, param, 0.5)
    assert out.tolist() == [2.0, -2.0, 4.0]
    assert grad.tolist() == [1.0, 0.0, -1.0] and param.tolist() == [2.0, -4.0, 10.0]
    assert out is not grad


@pytest.mark.task("05.2")
@SETTINGS
@given(param=_vectors, weight_decay=_rate)
def test_l2_penalty_is_the_gradient_of_half_weight_decay_times_the_squared_norm(param, weight_decay):
    # d/dp of wd/2 * ||p||^2 by central differences, with a zero loss gradient
    h = 1e-6
    penalty = lambda p: weight_decay / 2 * np.sum(p * p)
    numeric = np.array([(penalty(param + h * e) - penalty(param - h * e)) / (2 * h) for e in np.eye(param.size)])
    np.testing.assert_allclose(l2_penalty(np.zeros_like(param), param, weight_decay), numeric, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- 05.3 momentum_buffer

@pytest.mark.task("05.3")
def test_first_momentum_buffer_is_a_copy_of_the_gradient_without_dampening():
    grad = np.array([1.0, -2.0])
    buffer = momentum_buffer(None, grad, 0.9, 0.5)
    assert buffer.tolist() == [1.0, -2.0] and not np.shares_memory(buffer, grad)
    grad += 100.0  # the next backward adds into the gradient: the velocity must not follow
    assert buffer.tolist() == [1.0, -2.0]


@pytest.mark.task("05.3")
def test_later_momentum_buffers_are_updated_in_place():
    buffer = np.array([1.0, -2.0])
    same = buffer
    out = momentum_buffer(buffer, np.array([2.0, 2.0]), 0.9, 0.5)
    assert out is same and np.allclose(out, [0.9 * 1.0 + 0.5 * 2.0, 0.9 * -2.0 + 0.5 * 2.0])


@pytest.mark.task("05.3")
@SETTINGS
@given(grads=st.lists(_fixed(3), min_size=1, max_size=8), momentum=_fraction)
def test_momentum_buffer_is_the_geometric_sum_of_past_gradients(grads, momentum):
    buffer = None
    for g in grads:
        buffer = momentum_buffer(buffer, g.copy(), momentum, 0.0)
    expected = sum(momentum ** k * g for k, g in enumerate(reversed(grads)))
    np.testing.assert_allclose(buffer, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- 05.4 nesterov_direction

@pytest.mark.task("05.4")
def test_nesterov_direction_is_grad_plus_momentum_times_buffer():
    grad, buffer = np.array([1.0, 2.0]), np.array([10.0, -10.0])
    assert nesterov_direction(grad, buffer, 0.5).tolist() == [6.0, -3.0]
    assert grad.tolist() == [1.0, 2.0] and buffer.tolist() == [10.0, -10.0]


@pytest.mark.task("05.1", "05.3", "05.4")
def test_nesterov_sgd_two_steps_by_hand():
    # L = theta^2 / 2: g = theta. b1 = 1, d1 = 1 + 0.5 = 1.5, theta1 = 1 - 0.15 = 0.85;
    # g2 = 0.85, b2 = 0.5 + 0.85 = 1.35, d2 = 0.85 + 0.675 = 1.525, theta2 = 0.85 - 0.1525 = 0.6975
    theta = Tensor(np.array([1.0]))
    opt = SGD([theta], lr=0.1, momentum=0.5, nesterov=True)
    for _ in range(2):
        theta.grad = Tensor(theta.data.copy())
        opt.step()
    assert np.allclose(theta.data, [0.6975], rtol=1e-12)


# ---------------------------------------------------------------- 05.5 adam_moments

@pytest.mark.task("05.5")
def test_adam_moments_by_hand_in_place():
    m, v = np.zeros(2), np.zeros(2)
    same_m, same_v = m, v
    adam_moments(m, v, np.array([2.0, -4.0]), 0.5, 0.75)
    adam_moments(m, v, np.array([2.0, -4.0]), 0.5, 0.75)
    assert m is same_m and v is same_v
    assert m.tolist() == [1.5, -3.0] and v.tolist() == [1.75, 7.0]


@pytest.mark.task("05.5")
@SETTINGS
@given(grads=st.lists(_fixed(2), min_size=1, max_size=8),
       beta1=_fraction, beta2=_fraction)
def test_adam_moments_are_weighted_averages_of_past_gradients_and_their_squares(grads, beta1, beta2):
    m, v = np.zeros(2), np.zeros(2)
    for g in grads:
        adam_moments(m, v, g, beta1, beta2)
    past = list(reversed(grads))
    np.testing.assert_allclose(m, sum((1 - beta1) * beta1 ** k * g for k, g in enumerate(past)), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(v, sum((1 - beta2) * beta2 ** k * g * g for k, g in enumerate(past)), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- 05.6 bias_correction

@pytest.mark.task("05.6")
def test_bias_correction_is_one_minus_beta_to_the_step():
    assert bias_correction(0.5, 1) == 0.5 and bias_correction(0.5, 3) == 0.875
    assert bias_correction(0.0, 1) == 1.0 and bias_correction(0.999, 100_000) == 1.0


@pytest.mark.task("05.6")
@SETTINGS
@given(beta=_fraction, step=st.integers(1, 50))
def test_bias_correction_is_the_total_weight_of_the_moving_average(beta, step):
    # an average of the constant 1 from zero reaches exactly this weight
    m = np.zeros(1)
    for _ in range(step):
        m += (1 - beta) * (1.0 - m)
    assert abs(bias_correction(beta, step) - m[0]) < 1e-12


# ---------------------------------------------------------------- 05.7 adam_step

@pytest.mark.task("05.6", "05.7")
def test_first_adam_step_is_lr_times_the_sign_of_the_gradient():
    param, g = np.array([1.0, 1.0]), np.array([3.0, -0.002])
    adam_step(param, 0.1 * g, 0.001 * g * g, 1, 0.01, 0.9, 0.999, 0.0)
    np.testing.assert_allclose(param, [0.99, 1.01], rtol=1e-12)


@pytest.mark.task("05.6", "05.7")
def test_adam_step_applies_eps_after_the_correction_of_v():
    # v = 1e-6 after one step of beta2 = 0.999: sqrt(v / 0.001) = 0.0316..., then + eps = 1
    param = np.zeros(1)
    adam_step(param, np.array([0.1]), np.array([1e-6]), 1, 1.0, 0.9, 0.999, 1.0)
    expected = -(1.0 / 0.1) * 0.1 / (np.sqrt(1e-6) / np.sqrt(1 - 0.999) + 1.0)
    np.testing.assert_allclose(param, [expected], rtol=1e-12)


@pytest.mark.task("05.5", "05.6", "05.7")
@SETTINGS
@given(grads=st.lists(_fixed(3, _nonzero), min_size=1, max_size=6),
       scale=st.floats(1e-3, 1e3))
def test_adam_steps_do_not_depend_on_the_gradients_scale(grads, scale):
    start = np.array([0.5, -1.0, 2.0])
    a, b = Tensor(start.copy()), Tensor(start.copy())
    opt_a, opt_b = Adam([a], lr=0.01, eps=0.0), Adam([b], lr=0.01, eps=0.0)
    for g in grads:
        a.grad, b.grad = Tensor(g), Tensor(scale * g)
        opt_a.step()
        opt_b.step()
    np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-12)


@pytest.mark.task("05.5", "05.6", "05.7")
def test_adam_with_a_constant_gradient_moves_lr_every_step_from_the_first():
    theta = Tensor(np.zeros(2))
    opt = Adam([theta], lr=0.1, eps=0.0)
    for t in range(1, 6):
        theta.grad = Tensor(np.array([5.0, -0.01]))
        opt.step()
        np.testing.assert_allclose(theta.data, [-0.1 * t, 0.1 * t], rtol=1e-12)


# ---------------------------------------------------------------- 05.8 decoupled_weight_decay

@pytest.mark.task("05.8")
def test_decoupled_weight_decay_scales_the_weights_in_place():
    param = np.array([2.0, -4.0], np.float32)
    same = param
    decoupled_weight_decay(param, 0.1, 0.5)
    assert param is same and param.dtype == np.float32 and np.allclose(param, [1.9, -3.8])


@pytest.mark.task("05.2", "05.5", "05.6", "05.7", "05.8")
def test_adamw_decays_where_adams_l2_penalty_is_normalised_away():
    moved = {}
    for name, make in {"Adam wd 0.5": lambda p: Adam(p, lr=0.1, weight_decay=0.5),
                       "Adam wd 0.01": lambda p: Adam(p, lr=0.1, weight_decay=0.01),
                       "AdamW wd 0.01": lambda p: AdamW(p, lr=0.1, weight_decay=0.01)}.items():
        w = Tensor(np.array([2.0]))
        w.grad = Tensor(np.zeros(1))
        make([w]).step()
        moved[name] = 2.0 - w.data[0]
    # Adam: the penalty's gradient is normalised to a step of lr, whatever its size; AdamW: lr * wd * w
    assert np.allclose([moved["Adam wd 0.5"], moved["Adam wd 0.01"]], 0.1, rtol=1e-6)
    assert np.isclose(moved["AdamW wd 0.01"], 0.1 * 0.01 * 2.0)
