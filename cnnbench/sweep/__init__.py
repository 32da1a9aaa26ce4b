"""Optuna sweeps over the Hydra-composed benchmark (`cnnbench sweep`)."""
