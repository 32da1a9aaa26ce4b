"""The built-in task plugins, each with the models it trains."""
