"""Collectors: one module per platform behind one seam (collectors/base.py).

Owns the records (PostRef, Observation, Gone, PostError), the Collector and Sink protocols, the
error tree, the registry (registry.py), the runner that alone catches collector errors
(runner.py) and the HTTP helper (http.py). Each platform's collector class declares its `name`
and one `CollectorSpec`: settings model, platform, label, colour, counters, cadence, quotas and
batch size.

May import: config.settings (each collector's settings model) and config.redact (secrets
masked in errors). Never storage, dashboard,
viralwatch or simulator: records go out through an injected Sink.
"""
