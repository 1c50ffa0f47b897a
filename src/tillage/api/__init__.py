"""The repository API's namespaces: what `tillage.Repo` delegates to.

One module per namespace, each reached from a `Repo` handle and built on first
access: `repo.refs` (branches, tags, commits, history, merging), `repo.datasets`
(reading, writing, diffing, verifying, collecting garbage), `repo.quality`
(profiles, schemas, checks, drift, alerts), `repo.models`, `repo.labels` and
`repo.selection` (choosing records by model state, and acting on them).
The namespaces delegate to the services below them and hold no storage logic;
this package imports nothing heavy when it loads.
"""
