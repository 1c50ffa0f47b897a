"""Durable pipelines: steps, runs that pause and resume, caching by data version."""
