"""Normalization of names into keys, and the blocking keys built from them."""

from __future__ import annotations

import pytest

from kgbuild.resolve import Normalizer, ResolverConfig
from kgbuild.resolve.normalize import LITERAL, OTHER, PERSON


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return Normalizer(ResolverConfig())


@pytest.mark.parametrize(
    ("surface", "kind", "key"),
    [
        ("  Barack \t Obama ", PERSON, "barack obama"),  # whitespace
        ("ＩＢＭ", OTHER, "ibm"),  # NFKC: full-width letters
        ("Obama's", PERSON, "obama"),  # possessive
        ("Obama’s", PERSON, "obama"),  # curly apostrophe
        ("Obama 's", PERSON, "obama"),  # tokenized possessive (Re-DocRED style)
        ("James'", PERSON, "james"),
        ("O'Brien", PERSON, "obrien"),  # apostrophe inside a word
        ("Mr. Barack Obama", PERSON, "barack obama"),  # honorific
        ("Dr Jane Goodall", PERSON, "jane goodall"),
        ("Acme Corp.", OTHER, "acme"),  # corporate suffix
        ("Siemens AG", OTHER, "siemens"),
        ("Foxconn Co., Ltd.", OTHER, "foxconn"),  # two suffixes
        ("The Killers", OTHER, "killers"),  # leading article
        ("Rheinland-Pfalz", OTHER, "rheinland pfalz"),
        ("Rheinland - Pfalz", OTHER, "rheinland pfalz"),
        ("U.S.", OTHER, "us"),  # dotted acronym
        ("U.S", OTHER, "us"),
        ("J.H. Dearle", PERSON, "j h dearle"),  # in a person name: two initials
        ("María la del Barrio", OTHER, "maria la del barrio"),  # Latin accents
        ("Straße", OTHER, "strasse"),  # casefold
        ("13 March 1963", LITERAL, "13 march 1963"),
        ("5%", LITERAL, "5 %"),  # units stay in literals: 5 % is not 5
        ("$5", LITERAL, "$ 5"),
        ("5,000", LITERAL, "5000"),
    ],
)
def test_keys(norm: Normalizer, surface: str, kind: str, key: str) -> None:
    assert norm.analyze(surface, kind).key == key


def test_honorifics_and_suffixes_only_where_they_are_titles(norm: Normalizer) -> None:
    assert norm.analyze("General Motors", OTHER).key == "general motors"
    assert norm.analyze("Mr. Smith", PERSON).key == "smith"
    assert norm.analyze("Mr.", PERSON).key == "mr"  # never empty
    assert norm.analyze("Inc.", OTHER).key == "inc"
    assert norm.analyze("Martin Luther King Jr.", PERSON).key == "martin luther king jr"


def test_non_latin_scripts_keep_their_marks(norm: Normalizer) -> None:
    # NFKD would split が into か + a combining mark: dropping it would merge two words.
    assert norm.analyze("がっこう", OTHER).key == "がっこう"
    assert norm.analyze("かっこう", OTHER).key != norm.analyze("がっこう", OTHER).key
    assert norm.analyze("東京", OTHER).key == "東京"


def test_person_parts(norm: Normalizer) -> None:
    name = norm.analyze("Martin Luther King Jr.", PERSON)
    assert (name.given, name.last, name.suffix) == (("martin", "luther"), "king", ("jr",))


def test_acronyms(norm: Normalizer) -> None:
    assert norm.analyze("IBM", OTHER).acronym_like
    assert norm.analyze("U.S.", OTHER).acronym_like
    assert not norm.analyze("Ibm", OTHER).acronym_like
    assert not norm.analyze("US Army", OTHER).acronym_like
    long = norm.analyze("International Business Machines Corp.", OTHER)
    assert "ibm" in long.acronyms
    assert "ffi" in norm.analyze("French Forces of the Interior", OTHER).acronyms


def test_numbers_include_roman_numerals(norm: Normalizer) -> None:
    assert norm.analyze("World War II", OTHER).numbers == ("ii",)
    assert norm.analyze("Apollo 11", OTHER).numbers == ("11",)
    assert norm.analyze("Civil War", OTHER).numbers == ()


def test_blocking_keys_find_variants(norm: Normalizer) -> None:
    def keys(surface: str, kind: str = OTHER) -> set[str]:
        return set(norm.analyze(surface, kind).keys)

    assert keys("Barack Obama", PERSON) & keys("Obama Barack", PERSON)  # reordered
    assert keys("Jonh Smith", PERSON) & keys("John Smith", PERSON)  # typo
    assert keys("B. Obama", PERSON) & keys("Barack Obama", PERSON)  # initial
    assert keys("Barack Obama", PERSON) & keys("Barack Hussein Obama", PERSON)  # middle name
    assert keys("Wopraim Hitox", PERSON) & keys("Wopraim Histox", PERSON)  # consonant typo
    assert keys("IBM") & keys("International Business Machines")  # acronym
    assert keys("Internatoinal Business Machines") & keys("International Business Machines")
    assert not keys("Barack Obama", PERSON) & keys("Michelle Obama", PERSON)
    assert all(k.startswith("n:") for k in norm.analyze("1990", LITERAL).keys)


def test_bad_input_is_named(norm: Normalizer) -> None:
    with pytest.raises(TypeError, match="mention text"):
        norm.analyze(None)  # type: ignore[arg-type]
