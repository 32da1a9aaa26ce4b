"""The conformance kit plugin authors run on their components."""
