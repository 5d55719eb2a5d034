"""tinytorch: a small deep-learning framework, built one notebook at a time.

The code in `tinytorch/core/` is generated from the notebooks in `modules/` by `tito export`.
"""
from .core.tensor import Tensor

__all__ = ["Tensor"]
