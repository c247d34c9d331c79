"""cluster_mentions: the resolver's algorithm on plain lists."""

from __future__ import annotations

import pytest

from kgbuild.resolve import EntityResolver, ResolverConfig, cluster_mentions


def test_one_document() -> None:
    names = ["Barack Obama", "Obama", "IBM", "International Business Machines", "Obama"]
    types = ["person", "person", "organization", "organization", "location"]
    assert cluster_mentions(names, types) == [0, 0, 1, 1, 2]


def test_documents_link_in_order_of_first_appearance() -> None:
    names = ["Barack Obama", "Obama", "Michelle Obama", "Obama", "Barack Obama"]
    docs = ["a", "a", "b", "b", "c"]
    assert cluster_mentions(names, ["person"] * 5, docs) == [0, 0, 1, 1, 0]
    # Mentions of one document need not be adjacent.
    assert cluster_mentions(names, ["person"] * 5, ["a", "b", "b", "a", "c"]) == [0, 1, 1, 0, 0]


def test_same_partition_as_the_resolver(doc) -> None:
    texts = [
        (
            "a.txt",
            "Ada Lovelace met Charles Babbage. Lovelace wrote.",
            [("Ada Lovelace", "person"), ("Charles Babbage", "person"), ("Lovelace", "person")],
        ),
        (
            "b.txt",
            "Babbage built engines in London.",
            [("Babbage", "person"), ("London", "location")],
        ),
        (
            "c.txt",
            "Charles Babbage left London for Turin.",
            [("Charles Babbage", "person"), ("London", "location"), ("Turin", "location")],
        ),
    ]
    resolver = EntityResolver()
    names, types, docs, entity_ids = [], [], [], []
    for source, text, spans in texts:
        _, mentions = doc(source, text, spans)
        result = resolver.resolve_document(mentions)
        entity_ids += [m.entity_id for m in result.mentions]
        names += [m.text for m in mentions]
        types += [m.label for m in mentions]
        docs += [source] * len(mentions)
    labels = cluster_mentions(names, types, docs)
    first = {}
    assert [first.setdefault(e, len(first)) for e in entity_ids] == labels


def test_config_is_used() -> None:
    names = ["Acme", "Acme"]
    types = ["organization", "company"]
    assert cluster_mentions(names, types) == [0, 1]
    relaxed = ResolverConfig(compatible_types=[("organization", "company")])
    assert cluster_mentions(names, types, config=relaxed) == [0, 0]


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="same length"):
        cluster_mentions(["a", "b"], ["person"])
    with pytest.raises(ValueError, match="doc_ids"):
        cluster_mentions(["a"], ["person"], ["d1", "d2"])
