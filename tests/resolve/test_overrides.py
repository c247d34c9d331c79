"""Overrides files: parsing and checks, and the resolver following them within and across
documents (the pipeline and both stores: tests/pipeline/test_overrides.py)."""

from __future__ import annotations

import json

import pytest

from kgbuild.resolve import EntityResolver, MergeDecision
from kgbuild.resolve.overrides import (
    OverrideName,
    Overrides,
    OverridesError,
    add_entry,
    load_overrides,
    parse_overrides,
)


def entity_of(result, text: str) -> str:
    return next(m.entity_id for m in result.mentions if m.text == text)


# -- the file ---------------------------------------------------------------------------


def test_a_file_with_strings_and_typed_names_is_read(tmp_path):
    path = tmp_path / "overrides.json"
    path.write_text(
        json.dumps(
            {
                "same": [["Nordwind", "Nordwind Energie GmbH"]],
                "different": [["Paris", {"name": "Paris Hilton", "type": "person"}]],
            }
        )
    )
    overrides = load_overrides(path)
    assert overrides.same == [
        [OverrideName(name="Nordwind"), OverrideName(name="Nordwind Energie GmbH")]
    ]
    assert overrides.different[0][1] == OverrideName(name="Paris Hilton", type="person")
    assert parse_overrides(overrides.to_json()) == overrides


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"same": [["A", "B"]', r"not valid JSON \(line 1, column 21"),
        ('{"sames": [["A", "B"]]}', r"unknown key 'sames'"),
        ('[["A", "B"]]', r"expected an object"),
        ('{"same": [["Nordwind"]]}', r'same\[0\] \["Nordwind"\]: an entry needs two or more'),
        ('{"same": [["A", "B"], "C"]}', r"same\[1\] \"C\": Input should be a valid list"),
        (
            '{"different": [["A", {"nam": "B"}]]}',
            r'different\[0\] \["A", \{"nam": "B"\}\]: Field required',
        ),
        ('{"same": [["Paris", "PARIS"]]}', r"'PARIS' is given twice"),
        (
            '{"same": [["Paris", "Paris Hilton"]], "different": [["paris hilton", "Paris"]]}',
            r'different\[0\] \["paris hilton", "Paris"\] is also \'same\' \(same\[0\]',
        ),
        (
            '{"same": [["A B", "C D"], ["C D", "E F"]], "different": [["A B", "E F"]]}',
            r"different\[0\] .* is also 'same'",
        ),
    ],
)
def test_bad_files_are_errors_naming_the_entry(tmp_path, text, message):
    path = tmp_path / "o.json"
    path.write_text(text)
    with pytest.raises(OverridesError, match=message) as err:
        load_overrides(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(OverridesError, match="missing.json does not exist"):
        load_overrides(tmp_path / "missing.json")


def test_add_entry_replaces_the_opposite_decision():
    names = [OverrideName(name="Nordwind"), OverrideName(name="Nordwind Energie GmbH")]
    merged, notes = add_entry(Overrides(), "same", names)
    assert merged.same == [names] and notes == []
    again, notes = add_entry(merged, "same", list(reversed(names)))
    assert again.same == [names] and "already" in notes[0]
    split, notes = add_entry(merged, "different", names)
    assert split.same == [] and split.different == [names]
    assert notes == ['removed same[0] ["Nordwind", "Nordwind Energie GmbH"]']


# -- the resolver -----------------------------------------------------------------------


def test_same_joins_names_no_rule_would_join_within_a_document(doc):
    text = "Nordwind Energie GmbH hired Anna Berg; Windkraft Nord later hired her too."
    _, mentions = doc(
        "a.txt",
        text,
        [("Nordwind Energie GmbH", "organization"), ("Windkraft Nord", "organization")],
    )
    plain = EntityResolver().resolve_document(mentions)
    assert entity_of(plain, "Windkraft Nord") != entity_of(plain, "Nordwind Energie GmbH")

    overrides = parse_overrides('{"same": [["windkraft nord", "NORDWIND ENERGIE GMBH"]]}')
    result = EntityResolver(overrides=overrides).resolve_document(mentions)
    assert entity_of(result, "Windkraft Nord") == entity_of(result, "Nordwind Energie GmbH")
    (why,) = [MergeDecision.from_json(x) for x in result.mentions[1].merges]
    assert why.rule == "override_same"
    assert why.evidence == 'overrides: same ["windkraft nord", "NORDWIND ENERGIE GMBH"]'
    assert result.overrides is not None and plain.overrides is None


def test_same_joins_across_documents_whichever_comes_first(doc):
    a = doc("a.txt", "Windkraft Nord builds farms.", [("Windkraft Nord", "organization")])[1]
    b = doc(
        "b.txt", "Nordwind Energie GmbH builds farms.", [("Nordwind Energie GmbH", "organization")]
    )[1]
    overrides = parse_overrides('{"same": [["Windkraft Nord", "Nordwind Energie GmbH"]]}')
    ids = []
    for order in ([a, b], [b, a]):
        resolver = EntityResolver(overrides=overrides)
        results = [resolver.resolve_document(m) for m in order]
        assert results[0].mentions[0].entity_id == results[1].mentions[0].entity_id
        why = {
            m.text: [MergeDecision.from_json(x) for x in m.merges]
            for r in results
            for m in r.mentions
        }
        # The entity has the group's fullest name: only Windkraft Nord was merged into it.
        assert why["Nordwind Energie GmbH"] == []
        ((merged,),) = [why["Windkraft Nord"]]
        assert (merged.rule, merged.target) == ("override_same", "Nordwind Energie GmbH")
        ids.append(results[0].mentions[0].entity_id)
    assert ids[0] == ids[1]  # named after the group's fullest name, in any order


def test_different_keeps_apart_what_the_rules_would_join(doc):
    text = "Nordwind Energie GmbH was founded in 2009. Nordwind grew fast."
    spans = [("Nordwind Energie GmbH", "organization"), ("Nordwind", "organization")]
    _, mentions = doc("a.txt", text, spans)
    plain = EntityResolver().resolve_document(mentions)
    assert entity_of(plain, "Nordwind") == entity_of(plain, "Nordwind Energie GmbH")

    overrides = parse_overrides('{"different": [["Nordwind", "Nordwind Energie GmbH"]]}')
    result = EntityResolver(overrides=overrides).resolve_document(mentions)
    assert entity_of(result, "Nordwind") != entity_of(result, "Nordwind Energie GmbH")
    (why,) = [MergeDecision.from_json(x) for x in result.mentions[1].merges]
    assert why.rule == "override_different" and why.evidence.startswith("partial would join")


def test_different_keeps_apart_across_documents(doc):
    people = [("Anna Berg", "person"), ("Tom Falk", "person")]
    a = doc(
        "a.txt", "Anna Berg and Tom Falk met Paris Hilton.", [*people, ("Paris Hilton", "person")]
    )
    b = doc("b.txt", "Anna Berg and Tom Falk met Hilton.", [*people, ("Hilton", "person")])
    a, b = a[1], b[1]
    for overrides, joined in [
        (None, True),
        (Overrides(different=[["Hilton", "Paris Hilton"]]), False),
    ]:
        resolver = EntityResolver(overrides=overrides)
        first = resolver.resolve_document(a)
        second = resolver.resolve_document(b)
        assert (entity_of(first, "Paris Hilton") == entity_of(second, "Hilton")) is joined


def test_typed_names_match_only_mentions_of_that_type(doc):
    text = "Georgia Brown visited Georgia, and Brown liked Georgia."
    spans = [("Georgia Brown", "person"), ("Georgia", "location"), ("Brown", "person")]
    _, mentions = doc("a.txt", text, spans)
    overrides = Overrides(same=[[{"name": "Georgia", "type": "person"}, "Brown"]])
    result = EntityResolver(overrides=overrides).resolve_document(mentions)
    # Georgia the place is no person: the override does not touch it.
    assert entity_of(result, "Georgia") != entity_of(result, "Brown")
