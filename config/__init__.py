"""Configuration: the typed Settings (settings.py) and the example TOML.

Owns settings sources and precedence (environment, TOML file, defaults), validation with one-line
errors, and the section shared by every collector (CollectorSettings). The per-collector models
live with their collectors; `settings_class` assembles them into one Settings class for the
composition root (viralwatch/catalog.py).

May import: nothing from the project.
"""
