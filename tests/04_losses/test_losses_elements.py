"""The elementwise student tasks on their own: MSE's forward, which makes its gradient (04.1), and each element's
loss and derivative for BCE (04.7) and BCE with logits (04.8), by hand and against central differences."""
import numpy as np
import pytest
from gradcheck import numerical_grad

from tinytorch.core import kernels
from tinytorch.core.autograd import Context
from tinytorch.core.losses import (
    MSELossFunction,
    _bce_elements,
    _bce_with_logits_elements,
    _mse_block,
    binary_cross_entropy,
)
from tinytorch.core.kernels import _log1p, _log1p_is_quick


def _each_way_of_log1p(monkeypatch):
    """Each of the two ways the given _log1p can take, in turn (whichever this machine's import chose), as the words
    for a failure's message: _log1p, and a solution that calls it, must be right both ways; a solution that does not
    is tested twice the same, and fails once."""
    for quick in (True, False):
        monkeypatch.setattr(kernels, "_QUICK_LOG1P", quick)
        way = "np.log1p" if quick else "np.log and its correction"
        yield f"(with the given _log1p taking {way}, if your code calls it)"



def _derivative_matches_the_loss(elements, x, *others):
    loss, derivative = elements(x, *others)
    assert loss.shape == derivative.shape == x.shape
    numeric = numerical_grad(lambda z: elements(z, *others)[0].sum(), x.copy())
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.task("04.1")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_forward_makes_the_gradient_when_a_backward_follows(reduction):
    x, y = np.array([3.0, -1.0, 0.5]), np.array([1.0, 1.0, 0.5])
    ctx = Context()
    loss = MSELossFunction.forward(ctx, x, y, reduction=reduction)
    expected = {"mean": 8 / 3, "sum": 8.0, "none": [4.0, 4.0, 0.0]}[reduction]
    np.testing.assert_allclose(loss, expected)
    scale = 1 / 3 if reduction == "mean" else 1.0
    np.testing.assert_allclose(ctx.saved_tensors[0], [4.0 * scale, -4.0 * scale, 0.0])  # 2 (x - y) * scale
    assert x.tolist() == [3.0, -1.0, 0.5] and y.tolist() == [1.0, 1.0, 0.5]  # the inputs are left alone


@pytest.mark.task("04.1")
@pytest.mark.parametrize("scale", [None, 0.25])
def test_mse_block_writes_into_the_arrays_it_is_given(scale):
    x, y = np.array([3.0, -1.0, 0.5, 2.0]), np.array([1.0, 1.0, 0.5, -2.0])
    diff, squares = np.full(4, np.nan), np.full(4, np.nan)  # NaN wherever nothing was written
    total = _mse_block(x, y, diff, scale, squares)
    assert not np.isnan(diff).any(), ("_mse_block left the given diff unwritten: write x - y into it with "
                                      "np.subtract(x, y, out=diff) (diff = x - y makes a new array instead)")
    assert not np.isnan(squares).any(), "_mse_block left the given squares unwritten: np.multiply(..., out=squares)"
    assert total == 24.0, f"the sum of the squares of x - y (4 + 4 + 0 + 16) is 24, before any scaling; got {total}"
    assert squares.tolist() == [4.0, 4.0, 0.0, 16.0]
    expected = [2.0, -2.0, 0.0, 4.0] if scale is None else [1.0, -1.0, 0.0, 2.0]  # x - y, or 2 (x - y) * 0.25
    assert diff.tolist() == expected
    assert x.tolist() == [3.0, -1.0, 0.5, 2.0] and y.tolist() == [1.0, 1.0, 0.5, -2.0]  # the inputs are left alone


@pytest.mark.task("04.1")
def test_mse_forward_without_a_backward_keeps_nothing():
    ctx = Context(needs_grad=False)
    assert MSELossFunction.forward(ctx, np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5
    assert ctx.saved_tensors == ()


@pytest.mark.task("04.1")
def test_mse_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    ctx = Context()
    MSELossFunction.forward(ctx, x, y)
    numeric = numerical_grad(lambda z: float(MSELossFunction.forward(Context(False), z, y)), x.copy())
    np.testing.assert_allclose(MSELossFunction.backward(ctx, np.array(1.0)), numeric, rtol=1e-6, atol=1e-9)


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


@pytest.mark.task("04.8")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_elements_keep_log1p_accuracy_where_1_plus_exp_rounds(dtype, monkeypatch):
    # y = 1: the loss is log(1 + exp(-x)); from x = 17 on (float32; 37 for float64) 1 + exp(-x) rounds to 1, and the
    # loss is exp(-x) only if what the rounding lost is kept (log1p, or log with a correction)
    x = np.array([0.1, 5.0, 15.0, 16.6, 17.5, 18.4, 30.0, 36.0, 37.5, 60.0], dtype)
    for way in _each_way_of_log1p(monkeypatch):
        loss, derivative = _bce_with_logits_elements(x, np.ones_like(x), None)
        assert loss.dtype == dtype and derivative.dtype == dtype
        np.testing.assert_allclose(loss, np.log1p(np.exp(-x.astype(np.float64))), rtol=4 * np.finfo(dtype).eps,
                                   err_msg=f"the loss of logits {x.tolist()} with y = 1 {way}")


@pytest.mark.task("04.7")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_elements_keep_log1p_accuracy_for_tiny_and_large_probabilities(dtype, monkeypatch):
    # y = 0: the loss is -log(1 - p); for p below half a rounding of 1, 1 - p rounds to 1 and the loss is p only if
    # what the rounding lost is kept (log1p, or log with a correction); subnormal p included
    tiny = np.finfo(dtype).smallest_subnormal * 3
    p = np.array([tiny, 1e-30, 1e-10, 3e-8, 1e-5, 0.2191243, 0.3, 0.5, 0.7, 1 - 1e-7], dtype)
    for way in _each_way_of_log1p(monkeypatch):
        loss, _ = _bce_elements(p, np.zeros_like(p))
        np.testing.assert_allclose(loss, -np.log1p(-p.astype(np.float64)), rtol=8 * np.finfo(dtype).eps, atol=0,
                                   err_msg=f"the loss of probabilities {p.tolist()} with y = 0 {way}")


@pytest.mark.task("04.7", "04.8")
def test_the_element_functions_take_a_single_number_as_a_0d_array(monkeypatch):
    for way in _each_way_of_log1p(monkeypatch):
        loss, derivative = _bce_elements(np.array(0.25), np.array(1.0))
        assert loss.shape == derivative.shape == () and np.isclose(loss, np.log(4.0)), way
        loss, derivative = _bce_with_logits_elements(np.array(2.0), np.array(1.0), None)
        assert loss.shape == derivative.shape == () and np.isclose(loss, np.log1p(np.exp(-2.0))), way
        assert np.isclose(derivative, 1 / (1 + np.exp(-2.0)) - 1), way


@pytest.mark.task("04.7")
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_float16_bce_is_float64_bce_rounded_to_float16_within_one_step(y, monkeypatch):
    # every float16 probability: the loss and gradient, computed in float32 and rounded once, are within one float16
    # step of the exact numbers rounded; the gradient of p = 0 or 1 (about 1e12) is inf in float16, as in PyTorch
    p = np.arange(0, 2**16, dtype=np.uint16).view(np.float16)
    p = p[(p >= 0) & (p <= 1)]
    target = np.full_like(p, y)
    with np.errstate(divide="ignore"):  # log(0): the clamp's business
        exact = -np.maximum(np.log1p(-p.astype(np.float64)) if y == 0 else np.log(p.astype(np.float64)), -100)
    for way in _each_way_of_log1p(monkeypatch):
        loss = binary_cross_entropy(p, target, reduction="none")
        assert loss.dtype == np.float16
        steps = np.abs(loss.data.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float16)).astype(
            np.float64)
        unreadable = np.flatnonzero(np.isnan(steps))  # a NaN loss (exact is finite: clamped at 100)
        worst = int(unreadable[0]) if unreadable.size else int(np.argmax(steps))
        apart = "not a number of" if unreadable.size else f"{steps[worst]:.2f}"
        assert not unreadable.size and steps.max() <= 1.0, (
            f"float16 probability {p[worst]} with y = {y}: loss {loss.data[worst]}, exactly {exact[worst] + 0:.6g}, "
            f"{apart} float16 steps apart {way}")


@pytest.mark.task("04.7", "04.8")
def test_the_element_functions_leave_the_callers_arrays_alone(monkeypatch):
    for way in _each_way_of_log1p(monkeypatch):
        p, x, y = np.array([0.2, 0.5, 0.9]), np.array([-3.0, 0.5, 40.0]), np.array([0.0, 1.0, 0.3])
        pw = np.array([2.0, 0.5, 1.0])
        before = [a.copy() for a in (p, x, y, pw)]
        _bce_elements(p, y)
        _bce_with_logits_elements(x, y, None)
        _bce_with_logits_elements(x, y, pw)
        for name, a, b in zip(("p", "x", "y", "pos_weight"), (p, x, y, pw), before):
            assert np.array_equal(a, b), f"the element functions changed the caller's {name}: {b} became {a} {way}"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_given_log1p_is_as_accurate_as_np_log1p_either_way(dtype, monkeypatch):
    tiny = np.finfo(dtype).smallest_subnormal
    z = np.array([-1.0, -0.99, -0.5, -0.2191243, -1e-5, -3e-8, -tiny, 0.0, tiny, 1e-30, 1e-8, 0.3, 0.5, 1.0], dtype)
    for way in _each_way_of_log1p(monkeypatch):
        with np.errstate(divide="ignore"):  # log(0) at z = -1: -inf, as np.log1p gives
            exact, result = np.log1p(z.astype(np.float64)), _log1p(z)
        assert result.dtype == dtype and result[0] == -np.inf, way
        np.testing.assert_allclose(result[1:], exact[1:], rtol=(2 if dtype == np.float16 else 8) * np.finfo(dtype).eps,
                                   atol=0, err_msg=way)


def test_the_given_log1p_writes_only_into_out_which_may_be_z(monkeypatch):
    for way in _each_way_of_log1p(monkeypatch):
        z = np.array([1e-9, 0.25, 1.0])
        u, before = 1 + z, z.copy()
        out = np.full(3, np.nan)
        assert _log1p(z, u, out=out) is out and not np.isnan(out).any(), way
        assert np.array_equal(z, before) and np.array_equal(u, 1 + before), way  # z and u left alone
        assert _log1p(z, u, out=z) is z, way  # in place: the lost part is taken before z is overwritten
        np.testing.assert_allclose(z, np.log1p(before), rtol=1e-15, err_msg=way)
        single = _log1p(np.array(1e-9), out=np.empty(()))
        assert single.shape == () and np.isclose(single, np.log1p(1e-9), rtol=1e-15, atol=0), way
        assert np.isclose(_log1p(np.float64(-1e-9)), np.log1p(-1e-9), rtol=1e-15, atol=0), way  # a NumPy number


@pytest.mark.parametrize("log1p_time, quick", [(1.5, True), (2.0, True), (3.0, False)])
def test_log1p_counts_as_quick_when_it_costs_at_most_twice_np_log(log1p_time, quick, monkeypatch):
    # a clock that says each np.log call took 1 unit and each np.log1p call `log1p_time` (the best of the repeats)
    calls = iter([0.0, log1p_time] * 3 + [0.0, 1.0] * 3)
    monkeypatch.setattr(kernels.time, "perf_counter", lambda: next(calls))
    assert _log1p_is_quick(n=16, repeats=3) is quick
    assert type(kernels._QUICK_LOG1P) is bool  # what the import decided, one way or the other


def _exact_bce_with_logits_sum(x, y):
    """The sum of BCE-with-logits losses, in float64 from the same float32 (or float64) numbers."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return float(np.sum(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))


@pytest.mark.task("04.8")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("regime", ["spread", "confident", "wrong", "soft targets", "few"])
def test_bce_with_logits_elements_summed_is_the_sum_of_the_elements_to_a_rounding(dtype, regime, monkeypatch):
    rng = np.random.default_rng(7)
    n = 3 if regime == "few" else 5000  # 5000: whole groups of 256 for _log1p_sum, and 136 after them
    x = {"spread": rng.normal(size=n) * 4, "confident": 8 + rng.random(n) * 40, "wrong": -(8 + rng.random(n) * 40),
         "soft targets": rng.normal(size=n) * 20, "few": np.array([0.0, 40.0, -3.0])}[regime].astype(dtype)
    y = (rng.random(n) if regime == "soft targets" else np.ones(n)).astype(dtype)
    exact = _exact_bce_with_logits_sum(x, y)
    for way in _each_way_of_log1p(monkeypatch):
        total, derivative = _bce_with_logits_elements(x, y, None, summed=True)
        _, each_derivative = _bce_with_logits_elements(x, y, None)
        assert np.ndim(total) == 0, (f"with summed=True the loss is one number, the sum, got shape {np.shape(total)} "
                                     f"{way}")
        assert abs(float(total) - exact) <= 8 * np.finfo(dtype).eps * exact, (
            f"with summed=True the loss of {n} {np.dtype(dtype)} logits ({regime}) should be their sum, {exact!r}; "
            f"got {float(total)!r} {way}")
        np.testing.assert_array_equal(derivative, each_derivative, err_msg="summed=True changes only the loss")


def test_log1p_sum_adds_up_log1p_to_a_rounding_in_one_log_per_256_numbers():
    rng = np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        eps = np.finfo(dtype).eps
        tiny = np.finfo(dtype).smallest_subnormal
        for z in [np.exp(-np.abs(rng.normal(size=1000) * 10)), np.exp(-30 - rng.random(513) * 60),
                  np.array([0.0, 1.0, tiny, 1e-30, 0.5]), np.zeros(0), rng.random((3, 300))]:
            z = z.astype(dtype)
            before, u = z.copy(), 1 + z
            exact = float(np.sum(np.log1p(z.astype(np.float64))))
            got = kernels._log1p_sum(z, u)
            assert type(got) is float and abs(got - exact) <= 4 * eps * exact, (dtype, z.size, got, exact)
            assert kernels._log1p_sum(z) == got  # u made when not given
            np.testing.assert_array_equal(z, before)  # z is not written to
            np.testing.assert_array_equal(u, 1 + before)
    assert np.isnan(kernels._log1p_sum(np.float32([0.5, np.nan] * 300)))


@pytest.mark.task("04.8")
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("options", [{}, {"weight": np.full(6, 2.0)}, {"pos_weight": np.full(6, 3.0)},
                                     {"reduction": "none"}, {"reduction": "sum"}],
                         ids=["mean", "weight", "pos_weight", "none", "sum"])
def test_the_forward_asks_for_the_sum_only_of_float32_when_nothing_multiplies_each_element(options, dtype,
                                                                                          monkeypatch):
    from tinytorch.core import losses
    calls, real = [], losses._bce_with_logits_elements

    def spy(*args, **kwargs):
        calls.append(kwargs.get("summed", False))
        return real(*args, **kwargs)
    monkeypatch.setattr(losses, "_bce_with_logits_elements", spy)
    x, y = np.linspace(-3, 3, 6).astype(dtype), np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1.0], dtype)
    got = losses.binary_cross_entropy_with_logits(x, y, **options).numpy()
    quick = dtype != np.float64 and not {"weight", "pos_weight"} & set(options) and options.get("reduction") != "none"
    assert calls == [quick]  # float16 is computed in float32
    monkeypatch.setattr(losses, "_bce_with_logits_elements", real)
    each = losses.binary_cross_entropy_with_logits(x, y, **{**options, "reduction": "none"}).numpy()
    reduced = {"none": each, "sum": each.sum()}
    want = reduced.get(options.get("reduction"), each.mean())
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-6 if dtype == np.float32 else 1e-3)


@pytest.mark.task("04.8")
def test_an_elements_function_that_ignores_summed_gets_an_error_that_says_so(monkeypatch):
    from tinytorch.core import losses
    real = losses._bce_with_logits_elements

    def _bce_with_logits_elements(x, y, pos_weight, summed=False):  # a solution that forgot `summed`
        return real(x, y, pos_weight)
    monkeypatch.setattr(losses, "_bce_with_logits_elements", _bce_with_logits_elements)
    with pytest.raises(ValueError, match=r"_bce_with_logits_elements\(\.\.\., summed=True\) must give the sum of the "
                                         r"losses, one number, in place of their array; got an array of shape \(6,\)"):
        losses.binary_cross_entropy_with_logits(np.linspace(-3, 3, 6, dtype=np.float32), np.ones(6, np.float32))
