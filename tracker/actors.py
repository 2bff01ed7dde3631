"""Actors (ISO 3166-1 states and a built-in list of organisations) and ISO 4217 currencies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import Invalid, TrackerError, shown


@dataclass(frozen=True)
class Actor:
    code: str
    name: str
    kind: str  # "state" or "organisation"
    official_name: str | None = None
    alpha_2: str | None = None


# Organisations: code, name, other names accepted on input.
ORGANISATIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ADB", "Asian Development Bank", ()),
    ("AIIB", "Asian Infrastructure Investment Bank", ()),
    ("APEC", "Asia-Pacific Economic Cooperation", ()),
    ("ASEAN", "Association of Southeast Asian Nations", ()),
    ("AFU", "African Union", ()),
    ("BRICS", "BRICS", ()),
    ("CAREC", "Central Asia Regional Economic Cooperation Program", ()),
    ("CICA", "Conference on Interaction and Confidence-Building Measures in Asia", ()),
    ("CIS", "Commonwealth of Independent States", ()),
    ("COE", "Council of Europe", ()),
    ("CSTO", "Collective Security Treaty Organization", ()),
    ("EAEU", "Eurasian Economic Union", ("EEU",)),
    ("EBRD", "European Bank for Reconstruction and Development", ()),
    ("ECO", "Economic Cooperation Organization", ()),
    ("EIB", "European Investment Bank", ()),
    ("EU", "European Union", ()),
    ("G7", "Group of Seven", ()),
    ("G20", "Group of Twenty", ()),
    ("GCC", "Gulf Cooperation Council", ()),
    ("IAEA", "International Atomic Energy Agency", ()),
    ("IMF", "International Monetary Fund", ()),
    ("ISDB", "Islamic Development Bank", ()),
    ("LAS", "League of Arab States", ("Arab League",)),
    ("NATO", "North Atlantic Treaty Organization", ()),
    ("OECD", "Organisation for Economic Co-operation and Development", ()),
    ("OIC", "Organisation of Islamic Cooperation", ()),
    ("OSCE", "Organization for Security and Co-operation in Europe", ()),
    ("OTS", "Organization of Turkic States", ("Turkic Council",)),
    ("SCO", "Shanghai Cooperation Organisation", ("Shanghai Cooperation Organization",)),
    ("UN", "United Nations", ("UNO",)),
    ("UNDP", "United Nations Development Programme", ()),
    ("UNESCO", "United Nations Educational, Scientific and Cultural Organization", ()),
    ("UNICEF", "United Nations Children's Fund", ()),
    ("WB", "World Bank", ("World Bank Group", "IBRD")),
    ("WHO", "World Health Organization", ()),
    ("WTO", "World Trade Organization", ()),
)

# Short names people use that ISO 3166 spells otherwise.
COUNTRY_ALIASES = {
    "america": "USA",
    "bolivia": "BOL",
    "britain": "GBR",
    "burma": "MMR",
    "cape verde": "CPV",
    "czech republic": "CZE",
    "democratic republic of the congo": "COD",
    "dprk": "PRK",
    "drc": "COD",
    "east timor": "TLS",
    "great britain": "GBR",
    "holland": "NLD",
    "ivory coast": "CIV",
    "korea": "KOR",
    "macedonia": "MKD",
    "moldova": "MDA",
    "north korea": "PRK",
    "palestine": "PSE",
    "republic of korea": "KOR",
    "rok": "KOR",
    "russia": "RUS",
    "swaziland": "SWZ",
    "tanzania": "TZA",
    "the netherlands": "NLD",
    "turkey": "TUR",
    "uae": "ARE",
    "uk": "GBR",
    "united states of america": "USA",
    "vatican": "VAT",
    "venezuela": "VEN",
}

# Display names where the ISO short name reads awkwardly in a table.
DISPLAY_NAMES = {"RUS": "Russia", "KOR": "South Korea", "PRK": "North Korea"}

_SPACES = re.compile(r"\s+")
ACTOR_FORMS = "use an ISO 3166 country name or code, or an organisation code such as EU, UN, SCO"


@cache
def _iso(database: str, key: str) -> list[dict[str, str]]:
    """The records of one of pycountry's ISO databases, read from its JSON file.

    (`import pycountry` itself costs a third of `tracker add`'s start-up, mostly in
    looking up its own version; its data are what we need.)
    """
    import importlib.util

    import orjson

    spec = importlib.util.find_spec("pycountry")
    folder = Path(spec.origin).parent / "databases"
    return orjson.loads((folder / f"{database}.json").read_bytes())[key]


@cache
def _countries() -> dict[str, Actor]:
    actors = {}
    for country in _iso("iso3166-1", "3166-1"):
        code, name = country["alpha_3"], country["name"]
        actors[code] = Actor(
            code,
            DISPLAY_NAMES.get(code, country.get("common_name") or name),
            "state",
            country.get("official_name") or name,
            country["alpha_2"],
        )
    return actors


@cache
def all_actors() -> dict[str, Actor]:
    """Every known actor by code: states first, then organisations."""
    actors = dict(_countries())
    for code, name, _aliases in ORGANISATIONS:
        actors[code] = Actor(code, name, "organisation", name)
    return actors


@cache
def _names() -> dict[str, str]:
    """Lower-case names, codes and aliases to actor codes."""
    names: dict[str, str] = {}
    for code, name, aliases in ORGANISATIONS:
        for key in (code, name, *aliases):
            names[key.casefold()] = code
    for actor in _countries().values():
        for key in (actor.code, actor.alpha_2, actor.name, actor.official_name):
            names.setdefault(key.casefold(), actor.code)
    for country in _iso("iso3166-1", "3166-1"):
        names.setdefault(country["name"].casefold(), country["alpha_3"])
    for alias, code in COUNTRY_ALIASES.items():
        names.setdefault(alias, code)
    return names


def parse_actor(text: str) -> str:
    """Normalise a country name, alpha-2/alpha-3 code or organisation to its code."""
    key = _SPACES.sub(" ", str(text)).strip().casefold()
    code = _names().get(key)
    if code is None:
        raise TrackerError(f"unknown actor {shown(text)}: {ACTOR_FORMS}")
    return code


def parse_actors(values: tuple[str, ...] | list[str]) -> list[str]:
    """Normalise repeated and comma-separated actors, keeping order, dropping repeats."""
    codes: list[str] = []
    for value in values:
        try:
            parts = [parse_actor(value)]
        except TrackerError:
            parts = _split_actors(str(value))
        codes.extend(code for code in parts if code not in codes)
    return codes


def _split_actors(value: str) -> list[str]:
    """The actors of a comma-separated list; an unknown one is refused saying that the
    commas split the list, and, if it is part of a name with a comma (such as "Korea,
    Republic of"), which name and its code."""
    parts = value.split(",")
    codes = []
    for number, part in enumerate(parts):
        if not part.strip():
            continue
        try:
            codes.append(parse_actor(part))
        except TrackerError:
            if len(parts) == 1:  # no list
                raise
            raise TrackerError(f"unknown actor {shown(part)} in the list {shown(value)}, "
                               f"which is split at its commas: {_comma_hint(parts, number)}"
                               ) from None
    return codes


def _comma_hint(parts: list[str], number: int) -> str:
    """How to write an actor whose name the commas of a list split, if `parts[number]`
    is part of one with its neighbours; else what an actor is."""
    for start in range(max(number - 2, 0), number + 1):
        for end in range(max(start + 2, number + 1), min(start + 3, len(parts)) + 1):
            name = ",".join(parts[start:end])
            code = _names().get(_SPACES.sub(" ", name).strip().casefold())
            if code is not None:
                return (f"write {shown(name.strip())} as its code {code}, or give it alone "
                        "(not in a list)")
    return f"{ACTOR_FORMS} (a name with a comma is given alone, not in a list)"


def is_actor(code: object) -> bool:
    return isinstance(code, str) and code in all_actors()


@cache
@cache
def all_currencies() -> dict[str, str]:
    """ISO 4217 code -> name (current codes; not to be changed: it is shared)."""
    return {currency["alpha_3"]: currency["name"] for currency in _iso("iso4217", "4217")}


# When a retired currency was some country's legal tender: (territory, from, to), each
# date a (year, month, day) or None (open).
Tender = tuple[str, tuple[int, int, int] | None, tuple[int, int, int] | None]


@cache
def retired_currencies() -> dict[str, tuple[str, tuple[Tender, ...]]]:
    """ISO 4217 codes no longer current (not in pycountry's list) that were the legal
    tender of a country (CLDR, by babel): code -> (name, when and where). A pledge made
    in kuna (HRK), marks (DEM) or the lev (BGN, until Bulgaria took the euro) is still
    a pledge in that money."""
    from babel.core import get_global
    from babel.numbers import get_currency_name

    current = all_currencies()
    spans: dict[str, list[Tender]] = {}
    for territory, entries in get_global("territory_currencies").items():
        for code, start, end, tender in entries:
            if tender and code not in current:
                spans.setdefault(code, []).append((territory, start, end))
    return {code: (get_currency_name(code, locale="en"), tuple(sorted(
        tenders, key=lambda tender: (tender[1] or (0, 0, 0), tender[0]))))
        for code, tenders in sorted(spans.items())}


def parse_currency(text: str) -> str:
    code = str(text).strip().upper()
    if code not in all_currencies() and code not in retired_currencies():
        raise TrackerError(f"unknown currency {shown(text)}: use an ISO 4217 code such as JPY")
    return code


def out_of_tender(code: str, date_start: str, date_end: str) -> str | None:
    """Its name and when a retired currency was legal tender, if no day from
    `date_start` to `date_end` (ISO dates) falls in it; None for a current currency, or a
    date it fits."""
    if code in all_currencies():  # current: CLDR (babel) is not even loaded
        return None
    retired = retired_currencies().get(code)
    if retired is None:
        return None
    name, tenders = retired
    spans = []
    for territory, start, end in tenders:
        since = "-".join(f"{part:02d}" for part in start) if start else None
        until = "-".join(f"{part:02d}" for part in end) if end else None
        if (since is None or since <= date_end) and (until is None or date_start <= until):
            return None
        spans.append(f"{territory} {since or '...'} to {until or '...'}")
    return f"({name}) was legal tender in {', '.join(spans)} (CLDR)"


# ISO 4217 codes that are not money (an amount cannot be in them), and what each is for.
# The other codes of no country's money are units that amounts are given in: gold (XAU),
# silver, platinum, palladium, the IMF's SDR (XDR), the African Development Bank's unit
# of account (XUA), the Sucre (XSU) and the European bond-market units (XBA-XBD).
NOT_MONEY = {"XXX": "for transactions where no currency is involved",
             "XTS": "reserved for testing"}


def parse_new_currency(text: str) -> str:
    """The currency of an amount being recorded: also not one of `NOT_MONEY`. Not a check
    of stored events: earlier versions took those codes, and their logs stay valid."""
    code = parse_currency(text)
    if code in NOT_MONEY:
        raise Invalid("--currency", text, f"{code} is the ISO 4217 code {NOT_MONEY[code]}, "
                      "not a currency: give the currency of the amount")
    return code
