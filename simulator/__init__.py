"""The simulated internet: one ASGI app speaking each platform's API in its real format.

Owns a seeded spread model of the footage (model.py), the world it serves with fault switches
(world.py), one module of routes per platform, and the loopback server (server.py) used by tests,
benchmarks and `viralwatch demo`.

May import: nothing from the project, so tests prove the collectors read the platforms' formats,
not that the code agrees with itself.
"""
