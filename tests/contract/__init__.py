"""The repository contract: the same behaviour on every catalog backend."""
