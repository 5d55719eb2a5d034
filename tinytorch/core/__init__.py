"""The modules students build: tensor, activations, layers, losses (generated from `modules/`)."""
