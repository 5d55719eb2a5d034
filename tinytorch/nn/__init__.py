"""The user-facing building blocks: activations, layers and losses, in one namespace."""
from ..core.activations import ReLU, Sigmoid, Softmax, Tanh
from ..core.layers import Linear, Sequential
from ..core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
)

__all__ = [
    "ReLU", "Sigmoid", "Tanh", "Softmax",
    "Linear", "Sequential",
    "Loss", "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "BinaryCrossEntropyWithLogitsLoss",
]
