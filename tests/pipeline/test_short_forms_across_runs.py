"""Short forms across runs, on both stores: a short form ingested in a later run joins a
full name that an earlier run stored, under the evidence rules of one run (a shared
neighbour, or shared context), and only when it abbreviates that one entity; a second
run with nothing changed writes nothing.

``tests/data/nordwind``: "Nordwind Energie GmbH was founded by Klaus Vogel" (1), "Klaus
Vogel, the founder of Nordwind" (2), the company again with an office in Bremen (3).
"""

from __future__ import annotations

import shutil

import pytest
from test_explain import NORDWIND, SCHEMA, FoundingExtractor
from test_incremental import STORES, ingest, make_target

from kgbuild.resolve.explain import explain_entity


@pytest.fixture(params=STORES)
def target(request, tmp_path):
    return make_target(request, tmp_path)


def run(target, folder, relations=True):
    return ingest(target.store(), [folder], extractor=FoundingExtractor(relations), schema=SCHEMA)


def entities(target) -> dict[str, list[str]]:
    with target.store() as store:
        rows = store.query("MATCH (e:Entity) RETURN e.name AS name, e.aliases AS aliases")
    return {r["name"]: sorted(r["aliases"]) for r in rows}


def test_a_later_short_form_joins_a_stored_full_name_through_a_shared_neighbour(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(NORDWIND / "1_founding.txt", folder)
    assert run(target, folder).ok
    assert "Nordwind" not in entities(target)

    shutil.copy(NORDWIND / "2_interview.txt", folder)  # a later run: "founder of Nordwind"
    later = run(target, folder)
    assert (later.documents.new, later.documents.unchanged) == (1, 1)
    found = entities(target)
    assert found["Nordwind Energie GmbH"] == ["Nordwind", "Nordwind Energie GmbH"]
    assert "Nordwind" not in found
    with target.store() as store:
        (nordwind,) = explain_entity(store, "Nordwind")
    (merge,) = [m for m in nordwind.merges if m.source == "Nordwind"]
    assert merge.rule == "linked_short_form"
    assert merge.evidence == "shared neighbour: Klaus Vogel"
    assert merge.mentions[0].source.endswith("2_interview.txt")

    # A third run with nothing changed writes nothing.
    before = target.dump()
    again = run(target, folder)
    d = again.documents
    assert (d.new, d.changed, d.unchanged) == (0, 0, 2)
    assert target.dump() == before


def test_a_later_run_gives_what_one_run_gives(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(NORDWIND / "1_founding.txt", folder)
    run(target, folder)
    shutil.copy(NORDWIND / "2_interview.txt", folder)
    shutil.copy(NORDWIND / "3_office.txt", folder)
    run(target, folder)
    incremental = target.dump()
    target.wipe()
    ingest(target.store("fresh"), [folder], extractor=FoundingExtractor(), schema=SCHEMA)
    assert target.dump("fresh") == incremental


def test_a_later_short_form_without_evidence_stays_apart(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(NORDWIND / "1_founding.txt", folder)
    run(target, folder, relations=False)
    shutil.copy(NORDWIND / "2_interview.txt", folder)
    run(target, folder, relations=False)  # Klaus Vogel alone in common, and no relation
    found = entities(target)
    assert found["Nordwind"] == ["Nordwind"]
    assert found["Nordwind Energie GmbH"] == ["Nordwind Energie GmbH"]


def test_a_later_short_form_fitting_two_stored_names_stays_apart(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(NORDWIND / "1_founding.txt", folder)
    (folder / "1b_other.txt").write_text(
        "Nordwind Logistik AG was founded by Klaus Vogel in Bremen.\n", encoding="utf-8"
    )
    run(target, folder)
    shutil.copy(NORDWIND / "2_interview.txt", folder)
    run(target, folder)
    found = entities(target)
    assert found["Nordwind"] == ["Nordwind"]
    with target.store() as store:
        (nordwind,) = explain_entity(store, "Nordwind")
    assert [m.rule for m in nordwind.merges] == ["short_form_ambiguous"]


def test_a_later_bare_body_name_does_not_join_a_stored_x_of_y_name(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    # "Of" capitalized: the test extractor takes runs of capitalized words as names.
    (folder / "a.txt").write_text("Parliament Of Norway was founded by Erna Solberg in Oslo.\n")
    run(target, folder)
    (folder / "b.txt").write_text("Erna Solberg founded Parliament in Oslo.\n")
    run(target, folder)
    found = entities(target)
    assert found["Parliament"] == ["Parliament"]
    assert found["Parliament Of Norway"] == ["Parliament Of Norway"]


def test_the_old_version_of_a_changed_document_is_no_evidence_for_it(target, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "a.txt"
    doc.write_text("Nordwind Energie GmbH was founded by Klaus Vogel in Hamburg.\n")
    run(target, folder)
    # Only the old version of this very document named the company in full and related it
    # to Klaus Vogel: the new one's "Nordwind" has nothing else to go by.
    doc.write_text("Klaus Vogel, the founder of Nordwind, moved to Hamburg.\n")
    changed = run(target, folder)
    assert changed.documents.changed == 1
    found = entities(target)
    assert found.get("Nordwind") == ["Nordwind"]
    assert "Nordwind Energie GmbH" not in found
    incremental = target.dump()
    target.wipe()
    ingest(target.store("fresh"), [folder], extractor=FoundingExtractor(), schema=SCHEMA)
    assert target.dump("fresh") == incremental
