"""The presets cnnbench-swish ships: config-group options beside the registered component."""
