"""The protocol of tinytorch.core.autograd: Function and Context, Module's bookkeeping, no_grad.

A small module with one parameter (y = w * x) stands in for the layers of module 03, which these tests
may not import.
"""
import re
import threading

import numpy as np
import pytest
from checks import raises_naming

import tinytorch
from tinytorch.core.autograd import Context, Function, Module, is_grad_enabled, no_grad
from tinytorch.core.activations import ReLU
from tinytorch.core.tensor import Tensor, _as_float


class ScaleFunction(Function):
    """y = w * x elementwise; dL/dx = g * w, dL/dw = g * x."""

    @staticmethod
    def forward(ctx, input, weight):
        x, w = _as_float(input), _as_float(weight)
        ctx.save_for_backward(x, w)
        ctx.ran_with_grad = ctx.needs_grad
        return x * w

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        return grad_output * w, grad_output * x


class Scale(Module):
    function = ScaleFunction

    def __init__(self, n):
        self.weight = Tensor(np.arange(1.0, n + 1))

    def forward(self, input):
        return self._run(input, self.weight)


class Pair(Module):
    def __init__(self):
        self.first, self.second = Scale(2), Scale(3)
        self._hidden = Tensor([0.0])  # private: not a parameter


# ---------------------------------------------------------------- Function and Context


def test_apply_runs_the_forward_alone_with_a_context_that_needs_no_grad():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(ctx.needs_grad)
            ctx.save_for_backward(np.ones(1))
            seen.append(ctx.saved_tensors)
            return _as_float(x) + 1

    out = Probe.apply([1.0, 2.0])
    assert isinstance(out, Tensor) and out.data.tolist() == [2.0, 3.0]
    assert seen == [False, ()]  # nothing is kept when no backward will follow


def test_context_keeps_what_save_for_backward_was_given():
    ctx = Context()
    a, b = np.zeros(2), np.ones(3)
    ctx.save_for_backward(a, b)
    assert ctx.needs_grad and ctx.saved_tensors == (a, b)


def test_function_base_methods_are_abstract():
    with pytest.raises(NotImplementedError):
        Function.forward(Context(), 1)
    with pytest.raises(NotImplementedError):
        Function.backward(Context(), 1)


# ---------------------------------------------------------------- gradients accumulate


def test_backward_adds_into_each_parameters_grad_and_zero_grad_clears_it():
    layer = Scale(3)
    x = np.array([1.0, 2.0, 3.0])
    layer(x)
    dx = layer.backward(np.ones(3))
    np.testing.assert_array_equal(dx.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(layer.weight.grad.data, x)
    layer(x)
    layer.backward(np.ones(3))
    np.testing.assert_array_equal(layer.weight.grad.data, 2 * x)
    layer.zero_grad()
    assert layer.weight.grad is None


def test_two_half_batches_give_the_gradient_of_the_whole_batch():
    x, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.0])
    whole = Scale(3)
    whole(x)
    whole.backward(g)
    halves = Scale(3)
    for part in (np.array([1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])):
        halves(x)
        halves.backward(g * part)
    np.testing.assert_allclose(halves.weight.grad.data, whole.weight.grad.data, rtol=1e-15)


def test_the_gradient_keeps_the_parameters_dtype():
    layer = Scale(2)
    layer.weight = Tensor(np.ones(2, np.float32))
    layer(np.ones(2, np.float64))  # float64 input: float64 output, but the weight's gradient is float32
    layer.backward(np.ones(2))
    assert layer.weight.grad.dtype == np.float32


# ---------------------------------------------------------------- one backward per forward, no_grad


def test_backward_order_errors_name_the_module_and_the_reason():
    layer = Scale(2)
    with pytest.raises(RuntimeError, match=re.escape("Scale.backward() was called before forward()")):
        layer.backward(np.ones(2))
    layer(np.ones(2))
    layer.backward(np.ones(2))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        layer.backward(np.ones(2))
    with pytest.raises(ValueError):
        layer(np.ones(5))  # 5 values against 2 weights
    with pytest.raises(RuntimeError, match=re.escape("the last forward() raised an error")):
        layer.backward(np.ones(2))


def test_a_refused_grad_output_does_not_use_up_the_forward():
    layer = Scale(2)
    layer(np.ones(2))
    with pytest.raises(ValueError, match=re.escape("grad_output has shape (3,), but the last forward's output has shape (2,)")):
        layer.backward(np.ones(3))
    assert layer.backward(np.ones(2)).shape == (2,)


def test_no_grad_is_a_context_manager_and_a_decorator_and_nests():
    assert is_grad_enabled() and tinytorch.is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with tinytorch.no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @no_grad()
    def evaluate():
        return is_grad_enabled()

    assert evaluate() is False and is_grad_enabled()


def test_a_no_grad_function_that_calls_itself_leaves_gradients_on_afterwards():
    @no_grad()
    def depth(n):
        assert not is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3 and is_grad_enabled()
    reused = no_grad()
    with reused:
        with reused:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_decorates_without_parentheses_too_and_refuses_anything_else():
    @no_grad
    def evaluate():
        return is_grad_enabled()

    assert evaluate() is False and is_grad_enabled()
    with pytest.raises(TypeError, match="no_grad"):
        no_grad(5)


def test_no_grad_is_left_even_when_its_block_raises():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()


def test_no_grad_in_one_thread_does_not_switch_off_another_threads_gradients():
    seen = []
    entered, release = threading.Event(), threading.Event()

    def other():
        entered.wait()
        seen.append(is_grad_enabled())
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    with no_grad():
        entered.set()
        release.wait()
    thread.join()
    assert seen == [True]


def test_a_forward_under_no_grad_tells_the_function_that_no_backward_follows():
    layer = Scale(2)
    layer(np.ones(2))
    assert layer._saved[0].ran_with_grad is True
    with no_grad():
        out = layer(np.full(2, 7.0))
    assert out.data.tolist() == [7.0, 14.0]
    np.testing.assert_array_equal(layer.backward(np.ones(2)).data, [1.0, 2.0])  # still the first forward's


# ---------------------------------------------------------------- saved values are private


def test_saved_arrays_that_share_memory_with_the_callers_input_are_copied():
    layer = Scale(3)
    x = np.array([1.0, 2.0, 3.0])
    layer(x)
    x[:] = 100.0
    layer.weight -= 1.0  # an optimizer step between forward and backward: the forward's weight was saved
    layer.backward(np.ones(3))
    np.testing.assert_array_equal(layer.weight.grad.data, [1.0, 2.0, 3.0])


def test_arrays_the_forward_made_itself_are_not_copied():
    class Fresh(Function):
        @staticmethod
        def forward(ctx, x):
            made = _as_float(x) * 2
            ctx.save_for_backward(made)
            ctx.made = made
            return made + 1

    class M(Module):
        function = Fresh

    m = M()
    m(np.ones(2))
    ctx = m._saved[0]
    assert ctx.saved_tensors[0] is ctx.made


# ---------------------------------------------------------------- parameters, state_dict, repr


def test_named_parameters_walk_own_tensors_then_children_and_skip_private_ones():
    pair = Pair()
    assert [name for name, _ in pair.named_parameters()] == ["first.weight", "second.weight"]
    assert pair.parameters() == [pair.first.weight, pair.second.weight]
    pair.first.weight.grad = Tensor([1.0, 1.0])
    pair.zero_grad()
    assert pair.first.weight.grad is None


def test_state_dict_is_a_copy_and_load_state_dict_copies_in_place():
    pair = Pair()
    state = pair.state_dict()
    assert sorted(state) == ["first.weight", "second.weight"]
    state["first.weight"][:] = 9.0  # a copy: the module is unchanged
    assert pair.first.weight.data.tolist() == [1.0, 2.0]
    weight = pair.first.weight
    pair.load_state_dict(state)
    assert pair.first.weight is weight and weight.data.tolist() == [9.0, 9.0]


def test_load_state_dict_refuses_wrong_keys_and_shapes_and_then_changes_nothing():
    pair = Pair()
    state = pair.state_dict()
    with pytest.raises(ValueError, match=re.escape("missing keys ['second.weight'], unexpected keys ['third.weight']")):
        pair.load_state_dict({"first.weight": state["first.weight"], "third.weight": np.zeros(3)})
    bad = dict(state, **{"first.weight": np.full(2, 5.0), "second.weight": np.zeros(4)})
    with pytest.raises(ValueError, match=re.escape("'second.weight' has shape (4,), but the parameter has shape (3,)")):
        pair.load_state_dict(bad)
    assert pair.first.weight.data.tolist() == [1.0, 2.0]  # nothing was copied


def test_repr_shows_the_options_that_differ_from_the_defaults():
    class Shift(Module):
        _options = ("by", "mode")

        def __init__(self, by=1.0, mode="add"):
            self.by, self.mode = by, mode

    assert repr(Shift()) == "Shift()"
    assert repr(Shift(by=2.5)) == "Shift(by=2.5)"
    assert repr(Scale(2)) == "Scale()"  # needs an argument, has no options


@pytest.mark.task("02.1")
def test_a_module_with_its_own_forward_and_no_backward_says_it_needs_one():
    class Twice(Module):
        def __init__(self):
            self.inner = ReLU()

        def forward(self, x):
            return self.inner(self.inner(x))

    twice = Twice()
    twice(np.ones(3))
    with raises_naming(NotImplementedError, "Twice has its own forward", r"backward\(grad_output\)", "Sequential"):
        twice.backward(np.ones(3))
