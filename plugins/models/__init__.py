"""Built-in models, one module each; every one registers through ``cnnbench_register_models``."""
