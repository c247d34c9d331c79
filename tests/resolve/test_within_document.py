"""Resolving the mentions of one document: which mentions become one entity, and why."""

from __future__ import annotations

import pytest

from kgbuild import ids
from kgbuild.resolve import EntityResolver, MergeDecision, ResolvedDocument, ResolverConfig


def resolve(doc, text: str, spans, config: ResolverConfig | None = None) -> ResolvedDocument:
    _, mentions = doc("news.txt", text, spans)
    return EntityResolver(config).resolve_document(mentions)


def groups(result: ResolvedDocument) -> list[list[str]]:
    """Mention texts by entity, in order of first mention."""
    by_entity: dict[str, list[str]] = {}
    for m in result.mentions:
        by_entity.setdefault(m.entity_id, []).append(m.text)
    return list(by_entity.values())


def rules(result: ResolvedDocument) -> set[str]:
    return {d.rule for d in result.explain}


def test_last_name_joins_full_name(doc) -> None:
    text = "Barack Obama spoke in Chicago. Later Obama met Mr. Obama's staff."
    spans = [
        ("Barack Obama", "person"),
        ("Chicago", "location"),
        ("Obama", "person"),
        ("Mr. Obama's", "person"),
    ]
    result = resolve(doc, text, spans)
    assert groups(result) == [["Barack Obama", "Obama", "Mr. Obama's"], ["Chicago"]]
    obama = result.entities[0]
    assert obama.name == "Barack Obama"
    assert obama.id == ids.entity_id("person", "barack obama")
    assert set(obama.aliases) == {"Barack Obama", "Obama", "Mr. Obama's"}
    assert obama.mention_count == 3
    assert "last_name" in rules(result)


def test_ambiguous_last_name_stays_apart(doc) -> None:
    text = "Barack Obama and Michelle Obama arrived. Obama waved."
    spans = [("Barack Obama", "person"), ("Michelle Obama", "person"), ("Obama", "person")]
    result = resolve(doc, text, spans)
    assert groups(result) == [["Barack Obama"], ["Michelle Obama"], ["Obama"]]


def test_acronym_joins_its_expansion(doc) -> None:
    text = "International Business Machines reported profits; IBM also hired. IBM grew."
    spans = [
        ("International Business Machines", "organization"),
        ("IBM", "organization"),
        ("IBM", "organization"),
    ]
    result = resolve(doc, text, spans)
    assert groups(result) == [["International Business Machines", "IBM", "IBM"]]
    assert result.entities[0].name == "International Business Machines"
    decision = next(d for d in result.explain if d.rule == "acronym")
    assert (decision.source, decision.target) == ("IBM", "International Business Machines")
    assert decision.entity_id == result.entities[0].id


def test_ambiguous_acronym_stays_apart(doc) -> None:
    text = "Electronic Arts and Eastern Airlines both say EA is theirs."
    spans = [
        ("Electronic Arts", "organization"),
        ("Eastern Airlines", "organization"),
        ("EA", "organization"),
    ]
    assert len(groups(resolve(doc, text, spans))) == 3


def test_corporate_suffix_and_case(doc) -> None:
    text = "Acme Corp. sued ACME Inc over Acme's logo; Acme won."
    spans = [
        ("Acme Corp.", "organization"),
        ("ACME Inc", "organization"),
        ("Acme's", "organization"),
        ("Acme", "organization"),
    ]
    result = resolve(doc, text, spans)
    assert len(result.entities) == 1
    entity = result.entities[0]
    assert set(entity.aliases) == {"Acme Corp.", "ACME Inc", "Acme's", "Acme"}
    assert "n:acme" in entity.keys
    assert entity.id == ids.entity_id("organization", "acme")


def test_org_head_word_joins_when_unambiguous(doc) -> None:
    text = "The San Antonio Spurs won. The Spurs celebrated."
    spans = [("San Antonio Spurs", "organization"), ("Spurs", "organization")]
    assert groups(resolve(doc, text, spans)) == [["San Antonio Spurs", "Spurs"]]


def test_location_head_word_is_not_the_place(doc) -> None:
    text = "Albany County surrounds Albany."
    spans = [("Albany County", "location"), ("Albany", "location")]
    assert len(groups(resolve(doc, text, spans))) == 2


def test_different_types_stay_apart(doc) -> None:
    text = "Washington crossed the Delaware; Washington state is far from Washington."
    spans = [
        ("Washington", "person"),
        ("Delaware", "location"),
        ("Washington", "location"),
        ("Washington", "location"),
    ]
    result = resolve(doc, text, spans)
    assert groups(result) == [["Washington"], ["Delaware"], ["Washington", "Washington"]]
    assert {e.type for e in result.entities} == {"person", "location"}


def test_type_rule_can_be_relaxed_per_pair(doc) -> None:
    text = "Acme Corp makes anvils; Acme Corp ships them."
    spans = [("Acme Corp", "organization"), ("Acme Corp", "company")]
    assert len(groups(resolve(doc, text, spans))) == 2
    config = ResolverConfig(compatible_types=[("Organization", "company")])
    result = resolve(doc, text, spans, config)
    assert len(result.entities) == 1
    assert "same_key" in rules(result)


def test_initials_and_middle_names(doc) -> None:
    text = "John Henry Dearle designed it. J. H. Dearle signed; Dearle left. John Dearle too."
    spans = [
        ("John Henry Dearle", "person"),
        ("J. H. Dearle", "person"),
        ("Dearle", "person"),
        ("John Dearle", "person"),
    ]
    result = resolve(doc, text, spans)
    assert len(result.entities) == 1
    assert result.entities[0].name == "John Henry Dearle"
    assert "person_name" in rules(result)


def test_initial_fitting_two_people_stays_apart(doc) -> None:
    text = "John Smith and Jane Smith met J. Smith."
    spans = [("John Smith", "person"), ("Jane Smith", "person"), ("J. Smith", "person")]
    assert len(groups(resolve(doc, text, spans))) == 3


def test_generational_suffixes_are_different_people(doc) -> None:
    text = "Martin Luther King Sr. raised Martin Luther King Jr."
    spans = [("Martin Luther King Sr.", "person"), ("Martin Luther King Jr.", "person")]
    assert len(groups(resolve(doc, text, spans))) == 2


def test_typos_join_but_different_words_and_numbers_do_not(doc) -> None:
    text = (
        "Internatonal Business Machines and International Business Machines; "
        "World War I and World War II; Kyoto Imperial Palace and Tokyo Imperial Palace; "
        "Eastern Hemisphere and Western Hemisphere; South Korea and South Korean; "
        "Zaimax Wudral, then Zaimax Wural; Eurovision 2018 and Eurovision 2019."
    )
    spans = [
        ("Internatonal Business Machines", "organization"),
        ("International Business Machines", "organization"),
        ("World War I", "event"),
        ("World War II", "event"),
        ("Kyoto Imperial Palace", "location"),
        ("Tokyo Imperial Palace", "location"),
        ("Eastern Hemisphere", "location"),
        ("Western Hemisphere", "location"),
        ("South Korea", "location"),
        ("South Korean", "location"),
        ("Zaimax Wudral", "person"),  # no blocking key shared: found by the pairwise pass
        ("Zaimax Wural", "person"),
        ("Eurovision 2018", "event"),
        ("Eurovision 2019", "event"),
    ]
    result = resolve(doc, text, spans)
    assert [len(g) for g in groups(result)] == [2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1]
    assert "fuzzy" in rules(result)


def test_dates_match_only_exactly(doc) -> None:
    text = "On 13 March 1963, or March 13, 1963, not 15 March 1963."
    spans = [("13 March 1963", "date"), ("March 13, 1963", "date"), ("15 March 1963", "date")]
    assert [len(g) for g in groups(resolve(doc, text, spans))] == [2, 1]


def test_reordered_names(doc) -> None:
    text = "Obama Barack (as listed) is Barack Obama."
    spans = [("Obama Barack", "person"), ("Barack Obama", "person")]
    result = resolve(doc, text, spans)
    assert len(result.entities) == 1
    assert "sorted_tokens" in rules(result)


def test_mentions_are_returned_unchanged_but_for_entity_id(doc) -> None:
    text = "Ada Lovelace met Charles Babbage. Lovelace wrote notes."
    spans = [("Ada Lovelace", "person"), ("Charles Babbage", "person"), ("Lovelace", "person")]
    _, mentions = doc("a.txt", text, spans)
    result = EntityResolver().resolve_document(mentions)
    set_by_resolution = {"entity_id", "keys", "merges"}
    assert [m.model_dump(exclude=set_by_resolution) for m in result.mentions] == [
        m.model_dump(exclude=set_by_resolution) for m in mentions
    ]
    # keys: the full name's blocking keys; the short form "Lovelace" only its x: key
    assert "n:ada lovelace" in result.mentions[0].keys
    assert result.mentions[2].keys == ["x:lovelace"]
    # merges: the full names founded their entities; "Lovelace" says how it joined
    assert result.mentions[0].merges == result.mentions[1].merges == []
    (why,) = [MergeDecision.from_json(x) for x in result.mentions[2].merges]
    assert (why.rule, why.source, why.target) == ("last_name", "Lovelace", "Ada Lovelace")
    assert all(m.entity_id is None for m in mentions)  # inputs untouched
    ids_by_entity = {e.id for e in result.entities}
    assert {m.entity_id for m in result.mentions} == ids_by_entity
    assert sum(e.mention_count for e in result.entities) == len(mentions)


def test_same_input_twice_gives_the_same_ids(doc) -> None:
    text = "Grace Hopper joined Remington Rand. Hopper wrote COBOL at Remington Rand Inc."
    spans = [
        ("Grace Hopper", "person"),
        ("Remington Rand", "organization"),
        ("Hopper", "person"),
        ("COBOL", "product"),
        ("Remington Rand Inc.", "organization"),
    ]
    _, mentions = doc("h.txt", text, spans)
    first = EntityResolver().resolve_document(mentions)
    second = EntityResolver().resolve_document(mentions)
    assert first == second
    # The same resolver again (its memory holds the first result): still the same ids.
    resolver = EntityResolver()
    once = resolver.resolve_document(mentions)
    again = resolver.resolve_document(mentions)
    assert [m.entity_id for m in once.mentions] == [m.entity_id for m in again.mentions]
    resolver.reset()
    assert resolver.resolve_document(mentions) == once


def test_empty_document() -> None:
    result = EntityResolver().resolve_document([])
    assert result.mentions == [] and result.entities == []


def test_bad_input_is_named(doc) -> None:
    _, a = doc("a.txt", "Ada Lovelace", [("Ada Lovelace", "person")])
    _, b = doc("b.txt", "Alan Turing", [("Alan Turing", "person")])
    with pytest.raises(ValueError, match="one document"):
        EntityResolver().resolve_document(a + b)
    blank = a[0].model_copy(update={"text": "  "})
    with pytest.raises(ValueError, match=a[0].id):
        EntityResolver().resolve_document([blank])


SUBJECT_TEXT = (
    "Franck Piccard is a French former alpine skier who won the super-G at the 1988 Winter "
    "Olympics. His sister Leila Piccard and his brother Ian Piccard also raced. "
    "Piccard retired in 1996."
)
SUBJECT_SPANS = [
    ("Franck Piccard", "person"),
    ("Leila Piccard", "person"),
    ("Ian Piccard", "person"),
    ("Piccard", "person"),
]


def test_ambiguous_surname_joins_the_subject_introduced_first(doc) -> None:
    result = resolve(doc, SUBJECT_TEXT, SUBJECT_SPANS)
    assert groups(result) == [["Franck Piccard", "Piccard"], ["Leila Piccard"], ["Ian Piccard"]]
    decision = next(d for d in result.explain if d.rule == "last_name")
    assert (decision.source, decision.target) == ("Piccard", "Franck Piccard")


def test_ambiguous_surname_without_the_subject_rule_stays_apart(doc) -> None:
    config = ResolverConfig(last_name_subject=None)
    result = resolve(doc, SUBJECT_TEXT, SUBJECT_SPANS, config)
    assert groups(result) == [["Franck Piccard"], ["Leila Piccard"], ["Ian Piccard"], ["Piccard"]]


def test_ambiguous_surname_stays_apart_when_the_subject_is_not_among_its_candidates(doc) -> None:
    text = (
        "Anna Berg chaired the meeting of the regional council in the old town hall on "
        "Monday. Leila Piccard and Ian Piccard presented. Piccard answered questions."
    )
    spans = [
        ("Anna Berg", "person"),
        ("Leila Piccard", "person"),
        ("Ian Piccard", "person"),
        ("Piccard", "person"),
    ]
    result = resolve(doc, text, spans)
    assert ["Piccard"] in groups(result)


def test_ambiguous_surname_stays_apart_when_another_has_more_mentions(doc) -> None:
    text = SUBJECT_TEXT + " Leila Piccard coached later; Leila Piccard still does."
    spans = [*SUBJECT_SPANS, ("Leila Piccard", "person"), ("Leila Piccard", "person")]
    result = resolve(doc, text, spans)
    assert ["Piccard"] in groups(result)


COMPOUND_TEXT = (
    "Zantzinger earned degrees in folklore from the University of Pennsylvania. He studied "
    "film with Sol Worth at the University of Pennsylvania's Annenberg School of "
    "Communications. The Annenberg School of Communications later screened his films."
)
COMPOUND_SPANS = [
    ("Zantzinger", "person"),
    ("University of Pennsylvania", "organization"),
    ("Sol Worth", "person"),
    ("University of Pennsylvania's Annenberg School of Communications", "organization"),
    ("Annenberg School of Communications", "organization"),
]


def test_the_two_parts_of_a_compound_name_stay_apart_from_it(doc) -> None:
    result = resolve(doc, COMPOUND_TEXT, COMPOUND_SPANS)
    assert groups(result) == [
        ["Zantzinger"],
        ["University of Pennsylvania"],
        ["Sol Worth"],
        ["University of Pennsylvania's Annenberg School of Communications"],
        ["Annenberg School of Communications"],
    ]
    assert "partial" not in rules(result)


def test_the_parts_of_a_compound_name_join_it_without_the_rule(doc) -> None:
    config = ResolverConfig(partial_compounds_apart=False)
    result = resolve(doc, COMPOUND_TEXT, COMPOUND_SPANS, config)
    assert [
        "University of Pennsylvania",
        "University of Pennsylvania's Annenberg School of Communications",
        "Annenberg School of Communications",
    ] in groups(result)


def test_one_part_of_a_compound_name_still_joins_it(doc) -> None:
    text = COMPOUND_TEXT.replace("The Annenberg School of Communications", "The school")
    spans = [s for s in COMPOUND_SPANS if s[0] != "Annenberg School of Communications"]
    result = resolve(doc, text, spans)
    assert [
        "University of Pennsylvania",
        "University of Pennsylvania's Annenberg School of Communications",
    ] in groups(result)


MIDDLE_TEXT = (
    "Square Enix is a Japanese video game company formed from the merger of developer Square "
    "and publisher Enix. It acquired Eidos Interactive, which was merged with Square Enix's "
    "European publishing wing and renamed as Square Enix Europe."
)
MIDDLE_SPANS = [
    ("Square Enix", "organization"),
    ("Square", "organization"),
    ("Enix", "organization"),
    ("Eidos Interactive", "organization"),
    ("Square Enix", "organization"),
    ("Square Enix Europe", "organization"),
]


def test_the_end_of_a_name_that_starts_a_longer_one_stays_apart(doc) -> None:
    result = resolve(doc, MIDDLE_TEXT, MIDDLE_SPANS)
    assert groups(result) == [
        ["Square Enix", "Square Enix", "Square Enix Europe"],
        ["Square"],
        ["Enix"],
        ["Eidos Interactive"],
    ]
    assert not any(d.source == "Enix" for d in result.explain)


def test_the_end_of_a_name_joins_it_when_no_longer_name_starts_with_it(doc) -> None:
    text = MIDDLE_TEXT.split(" It acquired")[0] + " Enix later published Dragon Quest."
    spans = [("Square Enix", "organization"), ("Enix", "organization")]
    result = resolve(doc, text, spans)
    assert groups(result) == [["Square Enix", "Enix"]]


DOUBLE_SURNAME_TEXT = (
    "Guillermo David Endara Galimany (May 12, 1936 - September 28, 2009) was President of "
    "Panama from 1989 to 1994. Raised in a family allied to Panameñista Party founder "
    "Arnulfo Arias, Endara attended school in exile in the United States. Endara later "
    "received a law degree in Panama."
)
DOUBLE_SURNAME_SPANS = [
    ("Guillermo David Endara Galimany", "person"),
    ("Arnulfo Arias", "person"),
    ("Endara", "person"),
    ("Endara", "person"),
]


def test_the_first_of_two_surnames_joins_the_subject(doc) -> None:
    result = resolve(doc, DOUBLE_SURNAME_TEXT, DOUBLE_SURNAME_SPANS)
    assert groups(result) == [
        ["Guillermo David Endara Galimany", "Endara", "Endara"],
        ["Arnulfo Arias"],
    ]
    decision = next(d for d in result.explain if d.rule == "double_surname")
    assert (decision.source, decision.target) == ("Endara", "Guillermo David Endara Galimany")


def test_the_first_of_two_surnames_stays_apart_without_the_rule(doc) -> None:
    config = ResolverConfig(match_double_surname=False)
    result = resolve(doc, DOUBLE_SURNAME_TEXT, DOUBLE_SURNAME_SPANS, config)
    assert ["Endara", "Endara"] in groups(result)


def test_a_middle_word_another_person_also_has_stays_apart(doc) -> None:
    text = DOUBLE_SURNAME_TEXT.replace("Arnulfo Arias", "Arnulfo Endara Arias")
    spans = [("Guillermo David Endara Galimany", "person"), ("Arnulfo Endara Arias", "person")]
    spans += [("Endara", "person"), ("Endara", "person")]
    result = resolve(doc, text, spans)
    assert ["Endara", "Endara"] in groups(result)


def test_a_middle_word_of_someone_other_than_the_subject_stays_apart(doc) -> None:
    text = "Arnulfo Arias founded the party. " + DOUBLE_SURNAME_TEXT.replace(
        "founder Arnulfo Arias", "founder"
    )
    spans = [
        ("Arnulfo Arias", "person"),
        ("Guillermo David Endara Galimany", "person"),
        ("Endara", "person"),
        ("Endara", "person"),
    ]
    result = resolve(doc, text, spans)
    assert ["Endara", "Endara"] in groups(result)
