"""The benchmark (`make bench`): run from the repository root, it uses the tests' media makers."""
