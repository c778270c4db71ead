"""Pure maths over counter series: is the footage taking off? (issue 11).

Velocity, acceleration, doubling time, overperformance, bursts, forecasts and cross-platform
spread, computed from plain series: sequences of `(observed_at, cumulative counter)` readings,
timezone-aware UTC, possibly unevenly spaced, with gaps and hidden (None) counters.

The read side (`storage/read.py`, `dashboard/`) imports this package. It may import nothing from
the project (numpy and scipy only), does no I/O and keeps no state, so every measure is tested on
constructed series with known answers.

Two rules hold everywhere:
- Growth is only what was measured between two readings. A series' first reading is its baseline
  and never counts as growth.
- A gap in collection (two readings further apart than `max_gap_hours`) is a gap: it counts neither
  as growth nor as zero, and it is reported so a page can say so.

Modules: `series` (readings -> measured growth; `combined_growth` sums posts into a video's or a
platform's series without counting first readings), `velocity` (velocity, acceleration,
doubling time, hourly rates, inflection), `overperformance`, `bursts`, `forecast` (backtested by
`make backtest`, docs/FORECAST.md) and `spread` (pickup order, share of growth per platform).
"""
