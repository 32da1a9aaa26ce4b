"""The built-in cnnbench plugins, each module one entry point of the ``cnnbench`` group."""
