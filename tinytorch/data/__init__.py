"""Data sets and batches of module 06 in one namespace, as `torch.utils.data`: `from tinytorch.data import DataLoader`."""
from ..core.training import DataLoader, TensorDataset

__all__ = ["TensorDataset", "DataLoader"]
