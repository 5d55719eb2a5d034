"""The user-facing building blocks: the Module base, activations, layers and losses, in one namespace."""
from ..core.activations import ReLU, Sigmoid, Softmax, Tanh
from ..core.autograd import Module
from ..core.layers import Linear, Sequential
from ..core.losses import (
    BinaryCrossEntropyLoss,
    BinaryCrossEntropyWithLogitsLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
)

__all__ = [
    "Module",
    "ReLU", "Sigmoid", "Tanh", "Softmax",
    "Linear", "Sequential",
    "Loss", "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "BinaryCrossEntropyWithLogitsLoss",
]
