"""tinytorch: a small deep-learning framework, built one notebook at a time.

The code in `tinytorch/core/` is generated from the notebooks in `modules/` by `tito export`.
"""
from .core.autograd import is_grad_enabled, no_grad
from .core.tensor import Tensor

__all__ = ["Tensor", "no_grad", "is_grad_enabled"]
