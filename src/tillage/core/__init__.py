"""Pure domain values: commits, pins, diffs. No I/O, no other tillage imports."""
