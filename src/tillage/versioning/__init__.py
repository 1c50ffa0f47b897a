"""Versioning: commits, refs, history, diff and merge over the storage layer."""
