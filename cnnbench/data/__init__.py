"""Dataset loaders: bundled digits, IDX (MNIST & co.), USPS, CIFAR-10 binary, generated shapes."""
