"""viralwatch: the composition root and the command line.

Owns the CLI (cli.py, which alone reads the environment), the daemon that wires settings,
collectors, storage and the scheduler (daemon.py), what the collector registry tells settings
and the dashboard (catalog.py) and the demo against the simulator (demo.py).

May import: every other package; it is the only one that imports collectors, storage and
dashboard together.
"""
