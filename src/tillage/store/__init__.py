"""Storage: Lance tables for data, a SQL catalog for metadata."""
