"""A meeting's place when several cities of its country share the name: the warning that
names the one chosen, and how to choose another (`--geonameid`, "City, Region", `tracker
places`, `amend --set geonameid=`, the `geonameid` column of import and export)."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from functools import cache
from pathlib import Path

import orjson
import pytest

from tracker import places
from tracker.log import EventLog
from tracker.model import draft_record
from tracker.recorder import record

from .conftest import SOURCE, log_bytes, ok, rows, run

MEETING = ("add", "meeting", "--title", "Talks", "--date", "2025-01")
SPRINGFIELD_WARNING = (
    "Warning: city 'Springfield' names 20 places in USA: recorded as Springfield (MO, "
    "population 170188, GeoNames 4409896), the largest; to choose another, give its "
    "--geonameid (tracker places Springfield --country USA lists them)\n")
PARIS_WARNING = (
    "Warning: city 'Paris' names 8 places in USA: recorded as Paris (TX, population 24782, "
    "GeoNames 4717560), the largest; to choose another, give its --geonameid (tracker "
    "places Paris --country USA lists them)\n")


def place(meeting: str) -> dict:
    """The place of a meeting as `tracker show --json` gives it."""
    data = json.loads(ok("show", meeting, "--json"))["state"]
    return {key: data.get(key) for key in ("city", "city_as_given", "country", "geonameid",
                                           "latitude", "longitude")}


SPRINGFIELD_MA = {"city": "Springfield", "city_as_given": None, "country": "USA",
                  "geonameid": 4951788, "latitude": 42.10148, "longitude": -72.58981}


@pytest.mark.parametrize(("city", "warning", "geonameid"), [
    ("Springfield", SPRINGFIELD_WARNING, 4409896),
    ("Paris", PARIS_WARNING, 4717560),  # the others have fewer than 15000 people
])
def test_an_ambiguous_city_is_recorded_with_a_warning_naming_it(
        city: str, warning: str, geonameid: int) -> None:
    result = run(*MEETING, "--city", city, "--country", "USA", *SOURCE)
    assert result.exit_code == 0
    assert result.stderr == warning
    assert place(result.stdout.strip())["geonameid"] == geonameid


def test_a_city_alone_of_its_name_in_its_country_gives_no_warning() -> None:
    result = run(*MEETING, "--city", "Tokyo", "--country", "JPN", *SOURCE)
    assert (result.exit_code, result.stderr) == (0, "")


@pytest.mark.parametrize(("city", "country"), [
    ("São Paulo", "BRA"), ("Düsseldorf", "DEU"), ("Bogotá", "COL")])
def test_a_city_typed_decomposed_is_found_as_composed(city: str, country: str) -> None:
    """Some keyboards and pastes give a letter and its accent as two characters (NFD)."""
    decomposed = unicodedata.normalize("NFD", city)
    assert decomposed != city
    composed = place(ok(*MEETING, "--city", city, "--country", country, *SOURCE))
    result = run(*MEETING, "--city", decomposed, "--country", country, *SOURCE)
    assert (result.exit_code, result.stderr) == (0, "")
    found = place(result.stdout.strip())
    assert found["geonameid"] == composed["geonameid"] is not None
    assert (found["city"], found["city_as_given"]) == (city, None)  # the name, composed
    assert found["latitude"] == composed["latitude"]


def test_tracker_places_lists_the_namesakes_the_one_chosen_first() -> None:
    result = run("places", "Paris", "--country", "United States")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "4717560  Paris  TX  population 24782  33.66094,-95.55551\n"
        "4647963  Paris  TN  population 10150  36.302,-88.32671\n"
        "4303602  Paris  KY  population 9870  38.2098,-84.25299\n"
        "4246659  Paris  IL  population 8432  39.61115,-87.69614\n"
        "4974617  Paris  ME  population 5073  44.25979,-70.50062\n"
        "4125402  Paris  AR  population 3443  35.29203,-93.72992\n"
        "4402452  Paris  MO  population 1176  39.48087,-92.00128\n"
        "5603240  Paris  ID  population 506  42.22715,-111.40104\n")
    assert ok("places", "Paris", "--country", "FR").splitlines()[0].startswith("2988507  Paris")


def test_tracker_help_shows_what_places_does_whole() -> None:
    assert "  places   List the places that --city NAME may mean in a country.\n" in ok("--help")


@pytest.mark.parametrize(("args", "error"), [
    (("Atlantisville", "--country", "USA"), "Error: city 'Atlantisville' not found in USA\n"),
    (("Paris", "--country", "EU"), "Error: --country EU is not a state\n"),
    (("", "--country", "USA"), "Error: empty NAME\n"),
    (("a\x07b", "--country", "USA"),
     "Error: invalid NAME 'a\\x07b': control character U+0007\n"),
])
def test_tracker_places_refuses_in_one_line(args: tuple[str, ...], error: str) -> None:
    result = run("places", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", error)


@pytest.mark.parametrize("args", [
    ("--city", "Springfield", "--geonameid", "4951788"),
    ("--city", "Springfield ", "--geonameid", " 4951788 "),
    ("--geonameid", "4951788"),  # the city's name from GeoNames
    ("--city", "Springfield, MA"),
    ("--city", "Springfield, Massachusetts"),
])
def test_geonameid_or_region_chooses_the_place(args: tuple[str, ...]) -> None:
    result = run(*MEETING, *args, "--country", "USA", *SOURCE)
    assert result.exit_code == 0
    expected = dict(SPRINGFIELD_MA)
    if "--city" in args and "," in args[1]:
        expected["city_as_given"] = args[1]
        assert result.stderr == (f"Warning: city '{args[1]}' recorded as Springfield "
                                 "(GeoNames 4951788); the name given is kept in city_as_given\n")
    else:
        assert result.stderr == ""
    assert place(result.stdout.strip()) == expected
    assert ok("verify").startswith("OK:")


def test_city_region_takes_a_us_state_by_name_or_code_and_nothing_else() -> None:
    texas = ok(*MEETING, "--city", "Paris, Texas", "--country", "USA", *SOURCE)
    tennessee = ok(*MEETING, "--city", "paris, tn", "--country", "USA", *SOURCE)
    assert (place(texas)["geonameid"], place(tennessee)["geonameid"]) == (4717560, 4647963)
    capital = ok(*MEETING, "--city", "Washington, D.C.", "--country", "USA", *SOURCE)
    assert (place(capital)["geonameid"], place(capital)["city"]) == (4140963, "Washington")
    result = run(*MEETING, "--city", "Paris, Atlantis", "--country", "USA", *SOURCE)
    assert result.stderr == ("Warning: city 'Paris, Atlantis' not found in USA: recorded "
                             "without coordinates\n")


@pytest.mark.parametrize(("args", "error"), [
    (("--geonameid", "2988507", "--country", "USA"),
     "Error: --geonameid 2988507 is not a city of USA in GeoNames (cities of 1000 people or "
     "more, and capitals)\n"),
    (("--city", "Paris", "--geonameid", "4951788", "--country", "USA"),
     "Error: --city 'Paris' does not name --geonameid 4951788, Springfield (MA, population "
     "154341, GeoNames 4951788): give one of its names, or leave --city out\n"),
    (("--city", "Springfield", "--geonameid", "44O9896", "--country", "USA"),
     "Error: invalid --geonameid '44O9896': use a GeoNames id, a whole number such as "
     "4409896\n"),
    (("--geonameid", "0", "--country", "USA"),
     "Error: invalid --geonameid '0': use a GeoNames id, a whole number such as 4409896\n"),
    (("--geonameid", "4951788",), "Error: --geonameid 4951788 needs --country\n"),
])
def test_a_geonameid_that_does_not_fit_is_refused(events: Path, args: tuple[str, ...],
                                                   error: str) -> None:
    ok(*MEETING, *SOURCE)
    before = log_bytes(events)
    result = run(*MEETING, *args, *SOURCE)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", error)
    assert log_bytes(events) == before


def test_amend_chooses_another_place_and_keeps_it() -> None:
    meeting = ok(*MEETING, "--city", "Springfield", "--country", "USA", *SOURCE)
    result = run("amend", meeting, "--set", "geonameid=4951788", "--reason", "in Massachusetts")
    assert (result.exit_code, result.stderr) == (0, "")
    assert place(meeting) == SPRINGFIELD_MA
    # Another field amended: the place chosen stays, with no warning.
    result = run("amend", meeting, "--set", "title=Talks again", "--reason", "renamed")
    assert (result.exit_code, result.stderr) == (0, "")
    assert place(meeting) == SPRINGFIELD_MA
    # `geonameid=` lets the name choose again.
    result = run("amend", meeting, "--set", "geonameid=", "--reason", "back")
    assert (result.exit_code, result.stderr) == (0, SPRINGFIELD_WARNING.replace(
        "give its --geonameid", "give its --set geonameid="))
    assert place(meeting)["geonameid"] == 4409896


def test_amend_to_an_ambiguous_city_warns_with_the_option_amend_takes(events: Path) -> None:
    """The warning names how `tracker amend` chooses another place, `--set geonameid=`,
    not `tracker add`'s `--geonameid` (which amend does not take)."""
    meeting = ok(*MEETING, "--city", "Boston", "--country", "USA", "--geonameid", "4930956",
                 *SOURCE)
    result = run("amend", meeting, "--set", "city=Springfield", "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: city 'Springfield' names 20 places in USA: recorded as Springfield (MO, "
        "population 170188, GeoNames 4409896), the largest; to choose another, give its "
        "--set geonameid= (tracker places Springfield --country USA lists them)\n"))
    assert place(meeting)["geonameid"] == 4409896
    result = run("amend", meeting, "--set", "geonameid=4951788", "--reason", "in MA")
    assert (result.exit_code, result.stderr) == (0, "")  # as the warning says
    assert place(meeting) == SPRINGFIELD_MA


def test_amend_by_a_geonameid_alone_takes_its_place_and_its_name() -> None:
    """The city as given names another place than the one chosen by id: the id chooses
    (it was refused, telling to "leave --city out" of an amendment that gave no city)."""
    meeting = ok(*MEETING, "--city", "Paris, Texas", "--country", "USA", *SOURCE)
    result = run("amend", meeting, "--set", "geonameid=4647963", "--reason", "Tennessee")
    assert (result.exit_code, result.stderr) == (0, "")
    assert place(meeting) == {"city": "Paris", "city_as_given": None, "country": "USA",
                              "geonameid": 4647963, "latitude": 36.302,
                              "longitude": -88.32671}
    result = run("amend", meeting, "--set", "geonameid=4951788", "--set", "city=Paris",
                 "--reason", "no")  # a city given with it must still name it
    assert (result.exit_code, result.stderr.startswith(
        "Error: --city 'Paris' does not name --geonameid 4951788")) == (1, True)


def test_a_place_gazetteer_no_longer_has_stays_when_other_fields_are_amended(
        events: Path) -> None:
    """A meeting whose GeoNames id a later GeoNames drops keeps its place when another
    field is amended: the place is not looked up again."""
    draft = draft_record("meeting", {"title": "Talks", "date": "2025-01", "city": "Springfield",
                                     "country": "USA", "source": SOURCE[1]})
    gone = {"city": "Springfield", "city_as_given": "Springfeld", "geonameid": 999999999,
            "latitude": "42.10148", "longitude": "-72.58981"}
    event, _ = record(EventLog(events), replace(draft, data={**draft.data, **gone}))
    result = run("amend", event["id"], "--set", "title=Talks again", "--reason", "renamed")
    assert (result.exit_code, result.stderr) == (0, "")
    assert place(event["id"]) == {**SPRINGFIELD_MA, "city_as_given": "Springfeld",
                                  "geonameid": 999999999}
    assert json.loads(ok("log", "--json"))[-1]["data"]["changes"] == {"title": "Talks again"}
    result = run("amend", event["id"], "--set", "geonameid=999999999", "--reason", "look")
    assert (result.exit_code, result.stderr) == (1, (
        "Error: --geonameid 999999999 is not a city of USA in GeoNames (cities of 1000 people "
        "or more, and capitals)\n"))


def test_an_export_made_before_a_place_was_found_imports_into_its_own_log(
        events: Path, tmp_path: Path) -> None:
    """A meeting recorded when its city was not found ("Springfield, MA" was, before
    "City, Region" was read) is exported with its city as given and no GeoNames id: its
    row is the record already in the log, though the name now finds a place."""
    draft = draft_record("meeting", {"title": "Talks", "date": "2025-01", "city": "Springfield",
                                     "country": "USA", "source": SOURCE[1]})
    data = {key: value for key, value in draft.data.items()
            if key not in ("city_as_given", "geonameid", "latitude", "longitude")}
    event, _ = record(EventLog(events), replace(draft, data={**data, "city": "Springfield, MA"}))
    for form in ("csv", "jsonl"):
        exported = tmp_path / f"export.{form}"
        exported.write_text(ok("export", "--format", form))
        before = log_bytes(events)
        result = run("import", str(exported))
        assert (result.exit_code, result.stdout) == (
            0, f"Imported {exported}: nothing new to append; 1 row already in the log\n"), form
        assert log_bytes(events) == before
    assert place(event["id"])["geonameid"] is None


def test_amending_the_city_or_country_looks_the_place_up_again() -> None:
    meeting = ok(*MEETING, "--city", "Springfield", "--country", "USA", "--geonameid",
                 "4951788", *SOURCE)
    result = run("amend", meeting, "--set", "city=Paris, Tennessee", "--reason", "misread")
    assert result.exit_code == 0
    assert place(meeting) == {"city": "Paris", "city_as_given": "Paris, Tennessee",
                              "country": "USA", "geonameid": 4647963, "latitude": 36.302,
                              "longitude": -88.32671}
    result = run("amend", meeting, "--set", "city=Paris", "--set", "country=FRA",
                 "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, "")
    assert place(meeting)["geonameid"] == 2988507
    result = run("amend", meeting, "--set", "geonameid=4951788", "--reason", "no")
    assert (result.exit_code, result.stderr) == (1, (
        "Error: --geonameid 4951788 is not a city of FRA in GeoNames (cities of 1000 people "
        "or more, and capitals)\n"))


def test_the_city_or_country_given_again_keeps_the_place_chosen(events: Path) -> None:
    """`--set country=USA` on a meeting in the USA, or its city's name again, is not a new
    place: the place chosen by its GeoNames id stays (it moved to the largest namesake)."""
    meeting = ok(*MEETING, "--country", "USA", "--geonameid", "4951788", *SOURCE)
    before = log_bytes(events)
    for assignments in (["country=USA"], ["country=United States"], ["city=Springfield"],
                        ["city= Springfield ", "country=usa"]):
        result = run("amend", meeting, *(f"--set={item}" for item in assignments),
                     "--reason", "again")
        assert (result.exit_code, result.stderr.startswith("Error: nothing to amend")) == (
            1, True), assignments
    assert log_bytes(events) == before
    assert place(meeting) == SPRINGFIELD_MA
    result = run("amend", meeting, "--set", "city=Boston", "--reason", "moved")
    assert result.exit_code == 0
    assert place(meeting)["geonameid"] == 4930956  # Boston, MA: a new city is looked up


def test_clearing_the_city_clears_the_place_found_for_it(events: Path) -> None:
    """`--set city=` on a meeting whose city GeoNames found clears its place (the city,
    its id and coordinates), where the id kept gave the city back ("nothing to amend")."""
    for given in (("--city", "Springfield"), ("--geonameid", "4951788"),
                  ("--city", "springfield", "--geonameid", "4951788")):
        meeting = ok(*MEETING, *given, "--country", "USA", *SOURCE)
        result = run("amend", meeting, "--set", "city=", "--reason", "no city was given")
        assert (result.exit_code, result.stderr) == (0, ""), given
        assert place(meeting) == {"city": None, "city_as_given": None, "country": "USA",
                                  "geonameid": None, "latitude": None, "longitude": None}


def test_export_and_import_keep_the_place_chosen(tmp_path: Path, db: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = ok(*MEETING, "--city", "Springfield", "--country", "USA", "--geonameid",
                "4951788", *SOURCE)
    named = run(*MEETING, "--city", "Springfield", "--country", "USA", *SOURCE).stdout.strip()
    exported = tmp_path / "meetings.csv"
    exported.write_text(ok("export", "--format", "csv") + "\n", encoding="utf-8")
    header, *lines = exported.read_text(encoding="utf-8").splitlines()
    assert ",city,country,geonameid,participant," in header
    assert [line.split(",")[10:13] for line in lines] == [
        ["Springfield", "USA", "4951788"], ["Springfield", "USA", "4409896"]]
    monkeypatch.setenv("TRACKER_EVENTS", str(tmp_path / "other"))
    result = run("import", str(exported))
    assert (result.exit_code, result.stderr) == (0, "")
    assert (place(chosen), place(named)["geonameid"]) == (SPRINGFIELD_MA, 4409896)


def test_import_takes_a_geonameid_column_and_names_a_wrong_one(events: Path,
                                                                tmp_path: Path) -> None:
    rows_file = tmp_path / "meetings.csv"
    rows_file.write_text("id,title,date,city,country,geonameid,source\n"
                         "m1,A,2020,Springfield,USA,4951788,x\n"
                         "m2,B,2020,Paris,USA,2988507,x\n", encoding="utf-8")
    result = run("import", str(rows_file), "--kind", "meeting")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {rows_file}: 1 of 2 rows is invalid; nothing imported\n"
        "line 3: geonameid '2988507': geonameid 2988507 is not a city of USA in GeoNames "
        "(cities of 1000 people or more, and capitals)\n")
    assert log_bytes(events) == {}
    rows_file.write_text("id,title,date,city,country,geonameid,source\n"
                         "m1,A,2020,Springfield,USA,4951788,x\n", encoding="utf-8")
    ok("import", str(rows_file), "--kind", "meeting")
    ok("build")
    assert rows(tmp_path / "tracker.db", "select city, geonameid, latitude from meetings") == [
        {"city": "Springfield", "geonameid": 4951788, "latitude": 42.10148}]


DATA = places._data


@cache
def compact(threshold: int) -> bytes:
    """The data file without spaces."""
    return orjson.dumps(orjson.loads(DATA(threshold)))


@pytest.mark.parametrize("alpha_2", ["AD", "US", "KZ", "ZW", "XX"])
@pytest.mark.parametrize("threshold", places.POPULATION_THRESHOLDS)
def test_a_country_parsed_alone_gives_its_cities_as_the_whole_file_does(
        threshold: int, alpha_2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the stretch of the data file that holds the country is parsed; a file of
    another layout (here without spaces) is parsed whole, to the same cities."""
    whole = tuple(city for city in places._all_cities(threshold)
                  if city["countrycode"] == alpha_2)
    assert places._cities_of(threshold, alpha_2) == whole
    assert (alpha_2 == "XX") == (whole == ())
    monkeypatch.setattr(places, "_data", compact)
    assert places._cities_of.__wrapped__(threshold, alpha_2) == whole
