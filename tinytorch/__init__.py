"""tinytorch: a small deep-learning framework, built one notebook at a time.

The code in `tinytorch/core/` is generated from the notebooks in `modules/` by `tito export`.
"""
from .core.autograd import is_grad_enabled, no_grad
from .core.tensor import Tensor

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "save", "load"]


def __getattr__(name):
    # `tinytorch.save` and `tinytorch.load` come from module 06 (core/checkpoint.py), imported when first used:
    # `import tinytorch` then loads modules 01-02 only, whatever state the later modules are in
    if name in ("save", "load"):
        from .core import checkpoint

        return getattr(checkpoint, name)
    if name in ("nn", "optim", "data"):  # `import tinytorch as tt; tt.nn.Linear`, as with torch.nn
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinytorch' has no attribute {name!r}")
