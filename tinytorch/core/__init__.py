"""The modules students build: tensor, activations, layers, losses, optimizers, training (generated from `modules/`)."""
