"""Central-difference gradient checks shared by the module tests (on `pythonpath` via pyproject)."""
import numpy as np


def numerical_grad(f, x, eps=1e-6):
    """d f(x) / dx by central differences on every element of the float64 array `x`.

    `f` maps an array shaped like `x` to a float (a scalar loss). `x` is restored afterwards.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(f"numerical_grad needs float64 input for accuracy, got {x.dtype}")
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        up = float(f(x))
        flat[i] = orig - eps
        down = float(f(x))
        flat[i] = orig
        gflat[i] = (up - down) / (2 * eps)
    return grad


def vjp_numerical(f, x, grad_output, eps=1e-6):
    """The vector-Jacobian product grad_output . d f(x)/dx for an array-valued `f`, by central differences."""
    grad_output = np.asarray(grad_output, dtype=np.float64)
    return numerical_grad(lambda z: float(np.sum(np.asarray(f(z), dtype=np.float64) * grad_output)), x, eps)
