"""`tracker verify` checks stored values with compiled predicates: they must agree exactly
with the rule they stand for, "parsing the value gives it back unchanged" (but that a
stored text may hold U+FFFE or U+FFFF, which earlier versions took)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker import model

SINGLE_TEXT_FIELDS = [
    spec for spec in (*[spec for specs in model.FIELDS.values() for spec in specs],
                      *model.SOURCE_FIELDS, *model.UPDATE_FIELDS)
    if not spec.many and spec.parse not in (model.parse_actor, model.parse_flag)
]
SAMPLES = ["2019", "2019-05-20", "2019/2020", "JPY", "usd", "held", "Held", "summit",
           "central-asia-japan", "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "01j3z8q6m0s7wq4n6v7r2k9b1c",
           "2000000000", "1.5", "1.50", "A title", " padded ", "", "\u200b", "line\nbreak",
           "tab\there", "x" * 301, "x" * 20001, "caf\u00e9", "\ud800", "a\u2028b",
           "a\ufffeb", "\uffff", "\ufffe a", "\ufdd0", "a\U0001fffe"]
values = st.one_of(st.sampled_from(SAMPLES), st.text(max_size=60),
                   st.text(alphabet="0123456789-/ .,_ABCDEFGHJKMNPQRSTVWXYZabc", max_size=30))


@pytest.mark.parametrize("spec", SINGLE_TEXT_FIELDS, ids=lambda spec: spec.option)
@settings(max_examples=400, deadline=None)
@given(value=values)
def test_compiled_check_agrees_with_parsing(spec: model.Field, value: str) -> None:
    assert spec.check(value) == model._valid(spec.parse, as_earlier_versions(spec, value))


def as_earlier_versions(spec: model.Field, value: str) -> str:
    """What stands for a stored value in the rule: a text may hold U+FFFE and U+FFFF,
    which new text may not (XML forbids them) but earlier versions took; they count as
    another noncharacter of category C (U+FDD0), which parsing takes."""
    if isinstance(spec.parse, model.Text):
        return value.translate({0xFFFE: 0xFDD0, 0xFFFF: 0xFDD0})
    return value


@settings(max_examples=1000, deadline=None)
@given(items=st.lists(st.one_of(st.sampled_from(["JPN", "KAZ", "jpn", "Japan", "EU",
                                                 "a\ufffe"]),
                                st.text(max_size=5)), max_size=5))
def test_list_checks_agree(items: list[str]) -> None:
    participants = model.SPECS["meeting"]["participants"]
    stored_codes = 0 < len(items) <= model.MAX_ITEMS and all(
        item in model.all_actors() for item in items)  # a stored actor is its code
    assert participants.check(items) == stored_codes
    topics = model.SPECS["meeting"]["topics"]
    assert topics.check(items) == (0 < len(items) <= model.MAX_ITEMS and all(
        model._valid(topics.parse, as_earlier_versions(topics, item)) for item in items))
