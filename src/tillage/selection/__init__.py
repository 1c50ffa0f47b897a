"""Model-driven data iteration: which records to label, fix, remove, augment or generate.

The modules here are pure: they take arrays and Arrow tables (a model's
predictions, a featurizer's vectors, labels) and return decisions. The
repository's namespaces (`repo.models`, `repo.selection`) read the data through
the access layer, call them, and store what they decide as versioned tables.
"""
