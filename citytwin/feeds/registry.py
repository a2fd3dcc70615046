"""Loading feed definitions from the `sensors/` folder (read as data, never imported)."""

from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from citytwin.errors import FeedDefinitionError, NotFound
from citytwin.feeds.definition import FeedDefinition


class FeedRegistry(Mapping[str, FeedDefinition]):
    """The feeds a deployment knows, by name, and the city zone their `local` times are in."""

    def __init__(self, feeds: dict[str, FeedDefinition], city_zone: str | None = None) -> None:
        self._feeds = feeds
        self.city_zone = city_zone
        self._check_variables_agree()

    def __getitem__(self, name: str) -> FeedDefinition:
        try:
            return self._feeds[name]
        except KeyError:
            raise NotFound("feed", name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def unit_of(self, variable: str) -> str | None:
        """The canonical unit of `variable` in whichever feed declares it."""
        for feed in self._feeds.values():
            if variable in feed.variables:
                return feed.variables[variable].unit
        return None

    def _check_variables_agree(self) -> None:
        # Variables are global (cells aggregate a variable across feeds), so units must agree.
        units: dict[str, tuple[str, str]] = {}
        for feed in self._feeds.values():
            for name, spec in feed.variables.items():
                seen = units.setdefault(name, (feed.name, spec.unit))
                if seen[1] != spec.unit:
                    raise FeedDefinitionError(
                        f"variable {name!r} is in {seen[1]} in feed {seen[0]!r} "
                        f"but in {spec.unit} in feed {feed.name!r}"
                    )


def load_feed(path: Path) -> FeedDefinition:
    """Read and validate one feed definition file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return FeedDefinition.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise FeedDefinitionError(f"{path}: {exc}") from exc


def load_feeds(folder: Path, city_zone: str | None = None) -> FeedRegistry:
    """Every `*.yaml` feed definition in `folder`; `local` times are read in `city_zone`."""
    feeds = [load_feed(path) for path in sorted(folder.glob("*.yaml"))]
    return FeedRegistry({feed.name: feed for feed in feeds}, city_zone)
