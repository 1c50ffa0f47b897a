"""Loops that change the training data from the model's state, round after round.

A round trains the user's model, predicts on the pool, selects records, has them
annotated (by people, or by a simulated annotator in demos and benchmarks),
and evaluates on a fixed set; `curve` keeps the learning curve and decides when
to stop. The loops run as durable pipelines, so a process may exit while people
annotate and resume days later without losing or double-counting a label.
"""
