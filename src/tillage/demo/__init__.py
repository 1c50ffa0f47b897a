"""Demos on real data: what `tillage demo` runs. They use only the public API."""
