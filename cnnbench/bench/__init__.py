"""Component timing against PyTorch built-ins (`cnnbench bench`)."""
