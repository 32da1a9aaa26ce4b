"""The shared training loop and run execution."""
