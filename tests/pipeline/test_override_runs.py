"""Overrides through the whole pipeline, on both stores: "same" and "different" hold on
every run, an override added or removed later re-resolves only the documents it touches,
a document changed under an override keeps it, and after every step the graph is the one
a fresh ingest under the same overrides gives. A bad file changes nothing.
"""

from __future__ import annotations

import json
import shutil

import pytest
from test_explain import NORDWIND, SCHEMA, FoundingExtractor
from test_incremental import STORES, ingest, make_target

from kgbuild.resolve.explain import explain_entity, render_explanation
from kgbuild.resolve.overrides import OverridesError

SAME = {"same": [["Nordwind", "Nordwind Energie GmbH"]]}
DIFFERENT = {"different": [["nordwind", "NORDWIND ENERGIE GMBH"]]}


@pytest.fixture(params=STORES)
def target(request, tmp_path):
    return make_target(request, tmp_path)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(NORDWIND, folder)
    (folder / "4_other.txt").write_text("Anna Berg opened a bakery in Hamburg.\n")
    return folder


def write(tmp_path, data) -> object:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(target, docs, overrides=None, relations=False, name="graph"):
    return ingest(
        target.store(name),
        [docs],
        extractor=FoundingExtractor(relations),
        schema=SCHEMA,
        overrides=overrides,
        prune=True,
    )


def nordwinds(target, name="graph") -> dict[str, list[str]]:
    """Entities whose name starts with Nordwind: name -> aliases."""
    with target.store(name) as store:
        rows = store.query("MATCH (e:Entity) RETURN e.name AS name, e.aliases AS aliases")
    return {r["name"]: sorted(r["aliases"]) for r in rows if r["name"].startswith("Nordwind")}


def assert_as_fresh(target, docs, overrides=None, relations=False):
    """The graph equals a fresh ingest of the same documents under the same overrides.

    On Neo4j the fresh ingest replaces the graph (the test goes on from it: equal)."""
    incremental = target.dump()
    target.wipe()
    run(target, docs, overrides, relations, name="fresh")
    assert target.dump("fresh") == incremental


def test_same_and_different_hold_and_explain_says_so(target, docs, tmp_path):
    summary = run(target, docs, write(tmp_path, SAME))
    assert summary.ok
    # No relation evidence here: only the override joins the short form.
    assert nordwinds(target) == {"Nordwind Energie GmbH": ["Nordwind", "Nordwind Energie GmbH"]}
    with target.store() as store:
        (entity,) = explain_entity(store, "Nordwind")
    (merge,) = entity.merges
    assert merge.rule == "override_same" and merge.source == "Nordwind"
    assert merge.evidence == 'overrides: same ["Nordwind", "Nordwind Energie GmbH"]'
    assert merge.mentions[0].source.endswith("2_interview.txt")

    # A second run with nothing changed writes nothing.
    before = target.dump()
    again = run(target, docs, tmp_path / "overrides.json")
    d = again.documents
    assert (d.new, d.changed, d.unchanged) == (0, 0, 4)
    assert target.dump() == before


def test_different_keeps_apart_what_a_shared_neighbour_would_join(target, docs, tmp_path):
    run(target, docs, relations=True)
    assert set(nordwinds(target)) == {"Nordwind Energie GmbH"}  # joined by the rules

    split = run(target, docs, write(tmp_path, DIFFERENT), relations=True)
    # Only the documents naming either Nordwind are resolved again.
    assert (split.documents.changed, split.documents.unchanged) == (3, 1)
    assert nordwinds(target) == {
        "Nordwind": ["Nordwind"],
        "Nordwind Energie GmbH": ["Nordwind Energie GmbH"],
    }
    with target.store() as store:
        (short,) = explain_entity(store, "Nordwind", type="organization")
    (kept_apart,) = short.merges
    assert kept_apart.rule == "override_different"
    assert kept_apart.evidence.startswith("linked_short_form would join them; overrides:")
    assert "'Nordwind' kept apart from 'Nordwind Energie GmbH'; linked_short_form" in (
        render_explanation(short)
    )
    assert_as_fresh(target, docs, tmp_path / "overrides.json", relations=True)


def test_overrides_added_changed_under_and_removed_between_runs(target, docs, tmp_path):
    run(target, docs)
    assert set(nordwinds(target)) == {"Nordwind", "Nordwind Energie GmbH"}

    # Added after the first ingest: the three documents naming Nordwind are redone.
    path = write(tmp_path, SAME)
    added = run(target, docs, path)
    assert (added.documents.changed, added.documents.unchanged) == (3, 1)
    assert set(nordwinds(target)) == {"Nordwind Energie GmbH"}
    assert_as_fresh(target, docs, path)

    # A document changed under the override keeps it.
    (docs / "2_interview.txt").write_text("Klaus Vogel praised Nordwind on the radio today.\n")
    changed = run(target, docs, path)
    assert (changed.documents.changed, changed.documents.unchanged) == (1, 3)
    assert nordwinds(target) == {"Nordwind Energie GmbH": ["Nordwind", "Nordwind Energie GmbH"]}
    assert_as_fresh(target, docs, path)

    # Removed: the documents it touched are resolved by the rules again.
    path.write_text('{"same": [], "different": []}')
    removed = run(target, docs, path)
    assert (removed.documents.changed, removed.documents.unchanged) == (3, 1)
    assert set(nordwinds(target)) == {"Nordwind", "Nordwind Energie GmbH"}
    assert_as_fresh(target, docs, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"same": [["Nordwind", "Nordwind Energie GmbH"]', "not valid JSON"),
        ('{"merge": [["Nordwind", "Nordwind Energie GmbH"]]}', "unknown key 'merge'"),
        (
            json.dumps({**SAME, **DIFFERENT}),
            r"different\[0\] \[\"nordwind\", \"NORDWIND ENERGIE GMBH\"\] is also 'same'",
        ),
    ],
)
def test_a_bad_overrides_file_changes_nothing(target, docs, tmp_path, text, message):
    run(target, docs)
    before = target.dump()
    path = tmp_path / "overrides.json"
    path.write_text(text)
    with pytest.raises(OverridesError, match=message):
        run(target, docs, path)
    assert target.dump() == before


def test_a_name_that_never_occurs_is_a_warning_naming_the_entry(docs, tmp_path, caplog):
    from test_incremental import Target

    target = Target("networkx", tmp_path)
    path = write(tmp_path, {"same": [["Nordwind", "Nordwnid Energie"]]})
    with caplog.at_level("WARNING", logger="kgbuild"):
        run(target, docs, path)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"overrides {path}: same[0]: no mention is called 'Nordwnid Energie'" in warnings
    assert not any("'Nordwind'" in w for w in warnings)
