"""Views of private data that people may use: scans, aggregates, DP answers, synthetic proxies."""
