"""cnnbench's Hydra configs (the primary config, trainer, optimizer, experiments, sweeps)."""
