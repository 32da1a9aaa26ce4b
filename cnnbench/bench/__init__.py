"""Component timing against PyTorch built-ins (`cnnbench bench`); see ``docs/performance.md``."""

#: the kinds ``cnnbench bench`` times (models and tasks are whole runs: ``benchmarks/overhead.py``, ``scaling.py``)
KINDS = ("pooling", "activation", "convolution", "loss", "layer")
