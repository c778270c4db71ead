"""Collectors: one module per platform behind one seam (see collectors/base.py)."""
