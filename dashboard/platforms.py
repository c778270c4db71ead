"""The platforms the dashboard knows: display order, labels and chart colours.

The dashboard imports no collector. The composition root (viralwatch/catalog.py) builds a
`Platforms` from the collector registry and hands it to `create_app`; a name the catalog does not
know (old data, a removed collector) still gets a stable colour and its own name as label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Paul Tol's muted/light colours for names no collector declares; chosen by a hash of the name so
# a platform keeps its colour from one page load to the next.
_EXTRA_COLOURS = ("#EE8866", "#77AADD", "#EEDD88", "#FFAABB", "#99DDFF", "#BBCC33", "#AAAA00")


@dataclass(frozen=True, slots=True)
class PlatformStyle:
    """How one collector's platform is shown."""

    name: str
    label: str
    colour: str


@dataclass(frozen=True)
class Platforms:
    """The known platforms in display order; unknown names sort after them, alphabetically."""

    styles: Sequence[PlatformStyle] = ()
    _by_name: dict[str, tuple[int, PlatformStyle]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: the index is built once here, through object.__setattr__.
        index = {s.name: (rank, s) for rank, s in enumerate(self.styles)}
        object.__setattr__(self, "_by_name", index)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.styles]

    def order(self, names: Iterable[str]) -> list[str]:
        """`names` de-duplicated, known ones in display order first."""
        end = len(self._by_name)
        return sorted(set(names), key=lambda n: (self._by_name.get(n, (end,))[0], n))

    def colour(self, name: str) -> str:
        if name in self._by_name:
            return self._by_name[name][1].colour
        return _EXTRA_COLOURS[sum(name.encode()) % len(_EXTRA_COLOURS)]

    def label(self, name: str) -> str:
        return self._by_name[name][1].label if name in self._by_name else name


NO_PLATFORMS = Platforms()
"""No known platform: every name in alphabetical order, with its hash colour (tests, tools)."""
