"""Module's saved values: a parameter's own array is watched instead of copied, except where the caller could
still write on it with NumPy alone (the forward returned it as its output)."""
import numpy as np

import tinytorch.core.tensor as tensor_module
from tinytorch.core.autograd import Function, Module
from tinytorch.core.tensor import Tensor


class Scale(Function):  # y = w * x, saving the weight itself
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(weight.data)
        return weight.data * x

    @staticmethod
    def backward(ctx, grad_output):
        (w,) = ctx.saved_tensors
        return grad_output * w, None


class M(Module):
    function = Scale

    def __init__(self):
        self.weight = Tensor(np.array([1.0, 2.0]))

    def forward(self, x):
        return self._run(x, self.weight)


def test_a_parameter_passed_to_a_module_that_does_not_own_it_is_copied():
    owner, other = M(), M()
    other.weight = Tensor(np.array([5.0, 5.0]))
    shared = owner.weight
    out = Module._run.__get__(other)(np.ones(2), shared)  # `shared` is not one of other's parameters
    assert out.data.tolist() == [1.0, 2.0]
    assert other._saved[0].saved_tensors[0] is not shared.data
    shared.data[...] = 0.0  # a write with NumPy alone: other's saved copy is its own
    assert other.backward(np.ones(2)).data.tolist() == [1.0, 2.0]


def test_an_in_place_change_through_the_tensor_makes_the_pending_forward_copy_its_weight():
    m = M()
    m(np.ones(2))
    saved = m._saved[0].saved_tensors[0]
    assert saved is m.weight.data and id(saved) in tensor_module._before_change
    m.weight *= 10.0
    assert m._saved[0].saved_tensors[0] is not m.weight.data
    assert m.backward(np.ones(2)).data.tolist() == [1.0, 2.0]


def test_a_forward_whose_output_is_the_weight_itself_still_copies_it():
    class Echo(Function):  # returns its parameter's array as the output: the caller could write on it
        @staticmethod
        def forward(ctx, x, weight):
            ctx.save_for_backward(weight.data)
            return weight.data

        @staticmethod
        def backward(ctx, grad_output):
            (w,) = ctx.saved_tensors
            return grad_output * w, grad_output

    class M(Module):
        function = Echo

        def __init__(self):
            self.weight = Tensor(np.array([1.0, 2.0]))

        def forward(self, x):
            return self._run(x, self.weight)

    m = M()
    out = m(np.zeros(2))
    out.data[...] = 9.0  # a write on the returned output, with NumPy alone
    assert m.backward(np.ones(2)).data.tolist() == [1.0, 2.0]


class Square(Function):  # y = x ** 2, saving its input
    @staticmethod
    def forward(ctx, x):
        x = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output


class Sq(Module):
    function = Square


class Same(Function):  # returns its input's own array: the output is the caller's, not a new one
    @staticmethod
    def forward(ctx, x):
        return x.data if isinstance(x, Tensor) else x

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


class Id(Module):
    function = Same


def test_the_output_of_one_forward_is_watched_not_copied_by_the_next():
    first, second = Sq(), Sq()
    h = first(np.array([1.0, 2.0]))
    assert h._made_by_forward
    second(h)
    assert second._saved[0].saved_tensors[0] is h.data  # no copy
    h *= 10.0  # through the Tensor: the pending forward copies first
    assert second.backward(np.ones(2)).data.tolist() == [2.0, 8.0]


def test_a_callers_array_is_still_copied():
    x = np.array([1.0, 2.0])
    sq = Sq()
    sq(x)
    assert sq._saved[0].saved_tensors[0] is not x
    x[...] = 0.0
    assert sq.backward(np.ones(2)).data.tolist() == [2.0, 4.0]


def test_an_output_that_is_the_callers_own_array_is_not_taken_for_a_new_one():
    x = np.array([3.0, 4.0])
    out = Id()(x)
    assert out.data is x and not out._made_by_forward
    sq = Sq()
    sq(out)
    x[...] = 0.0  # the caller's array, changed with NumPy alone: sq kept its own copy
    assert sq.backward(np.ones(2)).data.tolist() == [6.0, 8.0]
