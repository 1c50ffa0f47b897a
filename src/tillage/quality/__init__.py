"""Data quality: mergeable column profiles (and, on top of them, drift and schema checks)."""
