"""The optimizers of module 05 in one namespace, as `torch.optim`: `from tinytorch.optim import SGD, Adam, AdamW`."""
from ..core.optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
