"""AWS implementations of the ports (stores, registry, feedback), AWS clients and AWS formats."""
