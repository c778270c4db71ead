"""Benchmarks (`make bench`): each figure is a ratio against a baseline measured in the same run.

May import: every package; they measure the real code against the simulator.
"""
