"""Platform colours are colour-blind safe and every pair stays apart (issue 10, Dashboard).

Differences are CAM02-UCS ΔE for normal vision and simulated protanopia, deuteranopia and
tritanopia (Machado 2009 at full severity, via colorspacious); see docs/PALETTE.md.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert

from viralwatch.catalog import dashboard_platforms

# The smallest difference two platforms may have, for every colour vision.
MIN_DELTA_E = 9.0
CARD_BACKGROUND = "#171E27"  # --panel in dashboard/static/app.css
VISIONS = (None, "protanomaly", "deuteranomaly", "tritanomaly")


def srgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255


def luminance(rgb: np.ndarray) -> float:
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def platform_colours() -> dict[str, str]:
    platforms = dashboard_platforms()
    return {name: platforms.colour(name) for name in platforms.names}


@pytest.mark.parametrize("vision", VISIONS)
def test_every_pair_of_platform_colours_is_distinguishable(vision: str | None) -> None:
    colours = platform_colours()
    rgb = np.array([srgb(c) for c in colours.values()])
    if vision is not None:
        space = {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}
        rgb = np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)
    ucs = cspace_convert(rgb, "sRGB1", "CAM02-UCS")
    names = list(colours)
    close = [
        (names[i], names[j], round(float(np.linalg.norm(ucs[i] - ucs[j])), 1))
        for i, j in itertools.combinations(range(len(names)), 2)
        if np.linalg.norm(ucs[i] - ucs[j]) < MIN_DELTA_E
    ]
    assert close == []


def test_platform_colours_stand_out_on_the_dark_background() -> None:
    background = luminance(srgb(CARD_BACKGROUND))
    for name, colour in platform_colours().items():
        contrast = (luminance(srgb(colour)) + 0.05) / (background + 0.05)
        assert contrast >= 3.0, (name, colour, round(contrast, 2))
