"""Short forms across documents, through the whole pipeline, on both stores.

``tests/data/short_forms``: a.txt names "Lena Vogt" and "Nordwind Energie GmbH" in full,
b.txt only "Vogt" and "Nordwind" (with Berlin and Jonas Falk in common); c.txt brings a
second Vogt, so d.txt's "Vogt" fits two people and stays an entity of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from test_incremental import STORES, ingest, make_target

DATA = Path(__file__).resolve().parents[1] / "data"


class ShortFormExtractor(FakeExtractor):
    """The test extractor, knowing GmbH companies and that "Nordwind" alone is one too."""

    def _type(self, name: str) -> str:
        if name.endswith("GmbH") or name == "Nordwind":
            return "organization"
        return super()._type(name)


@pytest.fixture(params=STORES)
def target(request, tmp_path):
    return make_target(request, tmp_path)


def test_short_forms_link_to_the_full_names_of_related_documents(target):
    ingest(target.store(), [DATA / "short_forms"], extractor=ShortFormExtractor())
    with target.store() as store:
        rows = store.query(
            "MATCH (m:Mention)-[:REFERS_TO]->(e:Entity) "
            "RETURN m.document_id AS doc, m.text AS text, e.name AS entity"
        )
        docs = {
            d["id"]: d["source"].rsplit("/", 1)[-1]
            for d in store.query("MATCH (d:Document) RETURN d.id AS id, d.source AS source")
        }
    seen = {(docs[r["doc"]], r["text"], r["entity"]) for r in rows}
    assert ("b_short_forms.txt", "Vogt", "Lena Vogt") in seen
    assert ("b_short_forms.txt", "Nordwind", "Nordwind Energie GmbH") in seen
    # Two Vogts in the graph by then: d's "Vogt" is neither of them.
    assert ("d_ambiguous.txt", "Vogt", "Vogt") in seen
