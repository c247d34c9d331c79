"""Linking across documents (the in-run index) and across runs (the store's alias index)."""

from __future__ import annotations

from pathlib import Path

from conftest import document_graph

from kgbuild.resolve import EntityResolver, ResolvedDocument, ResolverConfig
from kgbuild.store.networkx_store import NetworkXStore


def run(resolver: EntityResolver, doc, source: str, text: str, spans, store=None):
    document, mentions = doc(source, text, spans)
    return document, resolver.resolve_document(mentions, store)


def entity_of(result: ResolvedDocument, text: str) -> str:
    return next(m.entity_id for m in result.mentions if m.text == text)


def test_later_documents_link_to_earlier_entities(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Barack Obama visited IBM. Obama smiled.",
        [("Barack Obama", "person"), ("IBM", "organization"), ("Obama", "person")],
    )
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "President Barack Obama spoke.",
        [("President Barack Obama", "person")],
    )
    _, c = run(
        resolver,
        doc,
        "c.txt",
        "Obama returned to IBM Corp.",
        [("Obama", "person"), ("IBM Corp.", "organization")],
    )
    obama = entity_of(a, "Barack Obama")
    assert entity_of(b, "President Barack Obama") == obama  # honorific dropped: same name
    assert entity_of(c, "Obama") == obama  # the only Obama so far
    assert entity_of(c, "IBM Corp.") == entity_of(a, "IBM")
    linked = {d.rule for d in b.explain + c.explain}
    assert {"linked_exact_name", "linked_short_alias"} <= linked
    # A linked entity comes back with every alias seen so far, counting this document only.
    ibm = next(e for e in c.entities if e.id == entity_of(a, "IBM"))
    assert set(ibm.aliases) == {"IBM", "IBM Corp."} and ibm.mention_count == 1


def test_homonyms_in_different_documents_stay_apart(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Barack Obama was president. Obama left.",
        [("Barack Obama", "person"), ("Obama", "person")],
    )
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Michelle Obama wrote a book. Obama toured.",
        [("Michelle Obama", "person"), ("Obama", "person")],
    )
    # Both documents know an "Obama", but their full names disagree: two people.
    assert entity_of(a, "Obama") != entity_of(b, "Obama")
    assert entity_of(b, "Obama") == entity_of(b, "Michelle Obama")
    # A third document saying only "Obama" cannot tell which: a new entity, neither of them.
    _, c = run(resolver, doc, "c.txt", "Obama spoke.", [("Obama", "person")])
    assert entity_of(c, "Obama") not in {entity_of(a, "Obama"), entity_of(b, "Obama")}


def test_same_surname_without_shared_first_name_stays_apart(doc) -> None:
    resolver = EntityResolver()
    _, a = run(resolver, doc, "a.txt", "John Smith sued.", [("John Smith", "person")])
    _, b = run(resolver, doc, "b.txt", "Mary Smith won.", [("Mary Smith", "person")])
    _, c = run(resolver, doc, "c.txt", "J. Smith appealed.", [("J. Smith", "person")])
    _, d = run(resolver, doc, "d.txt", "John A. Smith won.", [("John A. Smith", "person")])
    assert entity_of(a, "John Smith") != entity_of(b, "Mary Smith")
    # An initial alone is no evidence across documents, a spelled-out first name is.
    assert entity_of(c, "J. Smith") not in {entity_of(a, "John Smith"), entity_of(b, "Mary Smith")}
    assert entity_of(d, "John A. Smith") == entity_of(a, "John Smith")
    assert "person_name" in {x.rule for x in d.explain}


def test_person_and_place_with_one_name_stay_apart(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Michael Jordan scored. Jordan smiled.",
        [("Michael Jordan", "person"), ("Jordan", "person")],
    )
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Amman is the capital of Jordan.",
        [("Amman", "location"), ("Jordan", "location")],
    )
    assert entity_of(a, "Jordan") != entity_of(b, "Jordan")
    assert next(e for e in b.entities if e.id == entity_of(b, "Jordan")).type == "location"


def test_typos_and_acronyms_link_across_documents(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Overseas Private Investment Corporation lent money.",
        [("Overseas Private Investment Corporation", "organization")],
    )
    _, b = run(resolver, doc, "b.txt", "OPIC lent more.", [("OPIC", "organization")])
    _, c = run(
        resolver,
        doc,
        "c.txt",
        "The Overseas Private Investmnet Corporation paid.",
        [("Overseas Private Investmnet Corporation", "organization")],
    )
    opic = entity_of(a, "Overseas Private Investment Corporation")
    assert entity_of(b, "OPIC") == opic
    assert entity_of(c, "Overseas Private Investmnet Corporation") == opic


def test_short_acronyms_do_not_link_without_context(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "The Emancipation Proclamation was read.",
        [("Emancipation Proclamation", "misc")],
    )
    _, b = run(resolver, doc, "b.txt", "The band released an EP.", [("EP", "misc")])
    assert entity_of(b, "EP") != entity_of(a, "Emancipation Proclamation")


def test_one_existing_entity_per_cluster_of_a_document(doc) -> None:
    resolver = EntityResolver()
    run(
        resolver,
        doc,
        "a.txt",
        "Barack Obama spoke. Obama left.",
        [("Barack Obama", "person"), ("Obama", "person")],
    )
    # Here "Obama" is ambiguous (two Obamas): it must not reach Barack through the index.
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Barack Obama and Michelle Obama came. Obama waved.",
        [("Barack Obama", "person"), ("Michelle Obama", "person"), ("Obama", "person")],
    )
    assert len({m.entity_id for m in b.mentions}) == 3


def test_incremental_linking_against_a_stored_graph(doc, tmp_path: Path) -> None:
    path = tmp_path / "graph.json"
    text_a = "Sherlock Holmes lives at Baker Street. Holmes plays the violin for Acme Corp."
    spans_a = [
        ("Sherlock Holmes", "person"),
        ("Baker Street", "location"),
        ("Holmes", "person"),
        ("Acme Corp", "organization"),
    ]
    with NetworkXStore(path) as store:
        document, first = run(EntityResolver(), doc, "a.txt", text_a, spans_a, store)
        store.write_documents([document_graph(document, first.mentions, first.entities)])

    # A later run, another resolver: all it knows comes from the file.
    text_b = "Mr. Holmes met Dr. Watson near Baker St at ACME Inc."
    spans_b = [
        ("Mr. Holmes", "person"),
        ("Dr. Watson", "person"),
        ("Baker St", "location"),
        ("ACME Inc", "organization"),
    ]
    with NetworkXStore(path) as store:
        document, second = run(EntityResolver(), doc, "b.txt", text_b, spans_b, store)
        store.write_documents([document_graph(document, second.mentions, second.entities)])
        assert store.counts()["entities"] == 5  # Holmes, Baker Street, Acme, Watson, Baker St

    assert entity_of(second, "Mr. Holmes") == entity_of(first, "Sherlock Holmes")
    assert entity_of(second, "ACME Inc") == entity_of(first, "Acme Corp")
    assert entity_of(second, "Baker St") != entity_of(first, "Baker Street")  # not a typo
    holmes = next(e for e in second.entities if e.id == entity_of(first, "Holmes"))
    assert holmes.name == "Sherlock Holmes"  # the fuller name stays canonical
    assert {"Sherlock Holmes", "Holmes", "Mr. Holmes"} <= set(holmes.aliases)

    # Re-resolving the first document against the store gives its ids again.
    with NetworkXStore(path) as store:
        _, again = run(EntityResolver(), doc, "a.txt", text_a, spans_a, store)
    assert [m.entity_id for m in again.mentions] == [m.entity_id for m in first.mentions]


def test_store_is_asked_for_names_once_per_run(doc) -> None:
    calls: list[list[str]] = []

    class Recording(NetworkXStore):
        def find_entities(self, keys):
            calls.append(list(keys))
            return super().find_entities(keys)

    def ask(config: ResolverConfig) -> list[list[str]]:
        calls.clear()
        resolver = EntityResolver(config)
        with Recording() as store:
            for source in ("a.txt", "b.txt"):
                text = "Ada Lovelace wrote to Charles Babbage."
                spans = [("Ada Lovelace", "person"), ("Charles Babbage", "person")]
                run(resolver, doc, source, text, spans, store)
        return [sorted(c) for c in calls]

    # By default only the names (as full names or short forms): on Neo4j an index seek.
    assert ask(ResolverConfig()) == [
        ["n:ada lovelace", "n:charles babbage", "x:ada lovelace", "x:charles babbage"]
    ]  # one query; the second document's names were asked for already
    # With store_blocking_keys, the blocking keys too (a pass over all entities on Neo4j).
    (keys,) = ask(ResolverConfig(store_blocking_keys=True))
    assert {"n:ada lovelace", "x:ada lovelace", "f:ada lovelace", "t:a lovelace"} <= set(keys)


def test_prefetch_for_a_batch_gives_the_same_entities(doc, tmp_path: Path) -> None:
    path = tmp_path / "graph.json"
    with NetworkXStore(path) as store:
        document, first = run(EntityResolver(), doc, *NORDWIND, store)
        store.write_documents([document_graph(document, first.mentions, first.entities)])
    later = [
        ("b.txt", "Lena Vogt met Jonas Falk.", [("Lena Vogt", "person"), ("Jonas Falk", "person")]),
        ("c.txt", "Nordwind Energie GmbH grew.", [("Nordwind Energie GmbH", "organization")]),
    ]
    with NetworkXStore(path) as store:
        one_by_one = EntityResolver()
        plain = [run(one_by_one, doc, *d, store)[1] for d in later]
        resolver = EntityResolver()
        resolver.prefetch([(t, label) for _, _, spans in later for t, label in spans], store)
        batched = [run(resolver, doc, *d, store)[1] for d in later]
    assert [m.entity_id for r in batched for m in r.mentions] == [
        m.entity_id for r in plain for m in r.mentions
    ]
    assert entity_of(batched[0], "Lena Vogt") == entity_of(first, "Lena Vogt")
    assert entity_of(batched[1], "Nordwind Energie GmbH") == entity_of(
        first, "Nordwind Energie GmbH"
    )


def test_a_name_ambiguous_in_its_document_links_nowhere(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Barack Obama spoke. Obama left.",
        [("Barack Obama", "person"), ("Obama", "person")],
    )
    # "Obama" here could be Michelle or Sasha: it must not fall back on Barack, the only
    # Obama the index knows by that short name.
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Michelle Obama and Sasha Obama came. Obama waved.",
        [("Michelle Obama", "person"), ("Sasha Obama", "person"), ("Obama", "person")],
    )
    assert entity_of(b, "Obama") != entity_of(a, "Barack Obama")
    assert len({m.entity_id for m in b.mentions}) == 3


def test_two_people_of_one_document_do_not_share_an_existing_entity(doc) -> None:
    resolver = EntityResolver()
    _, a = run(resolver, doc, "a.txt", "John Smith sued.", [("John Smith", "person")])
    # The document keeps John A. and John B. apart; both fit "John Smith" from elsewhere,
    # but only one of them can be him.
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "John A. Smith met John B. Smith.",
        [("John A. Smith", "person"), ("John B. Smith", "person")],
    )
    assert entity_of(b, "John A. Smith") != entity_of(b, "John B. Smith")
    assert entity_of(b, "John A. Smith") == entity_of(a, "John Smith")  # first of equals


# -- short forms across documents ---------------------------------------------------------------

NORDWIND = (
    "a.txt",
    "Lena Vogt leads Nordwind Energie GmbH in Bremen. Jonas Falk joined Nordwind Energie GmbH.",
    [
        ("Lena Vogt", "person"),
        ("Nordwind Energie GmbH", "organization"),
        ("Bremen", "location"),
        ("Jonas Falk", "person"),
        ("Nordwind Energie GmbH", "organization"),
    ],
)


def test_a_short_form_links_to_the_one_full_name_of_a_related_document(doc) -> None:
    resolver = EntityResolver()
    _, a = run(resolver, doc, *NORDWIND)
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Nordwind opened a plant in Bremen. Vogt and Jonas Falk spoke.",
        [
            ("Nordwind", "organization"),
            ("Bremen", "location"),
            ("Vogt", "person"),
            ("Jonas Falk", "person"),
        ],
    )
    assert entity_of(b, "Nordwind") == entity_of(a, "Nordwind Energie GmbH")
    assert entity_of(b, "Vogt") == entity_of(a, "Lena Vogt")
    rules = {(x.source, x.rule) for x in b.explain}
    assert {("Nordwind", "linked_short_form"), ("Vogt", "linked_short_form")} <= rules
    nordwind = next(e for e in b.entities if e.id == entity_of(a, "Nordwind Energie GmbH"))
    assert nordwind.name == "Nordwind Energie GmbH" and "Nordwind" in nordwind.aliases


def test_a_short_form_of_several_entities_stays_apart_and_says_why(doc) -> None:
    resolver = EntityResolver()
    _, a = run(resolver, doc, *NORDWIND)
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Karl Vogt joined Nordwind Werft Corp in Bremen with Jonas Falk.",
        [
            ("Karl Vogt", "person"),
            ("Nordwind Werft Corp", "organization"),
            ("Bremen", "location"),
            ("Jonas Falk", "person"),
        ],
    )
    _, c = run(
        resolver,
        doc,
        "c.txt",
        "Vogt met Nordwind in Bremen with Jonas Falk.",
        [
            ("Vogt", "person"),
            ("Nordwind", "organization"),
            ("Bremen", "location"),
            ("Jonas Falk", "person"),
        ],
    )
    assert entity_of(c, "Vogt") not in {entity_of(a, "Lena Vogt"), entity_of(b, "Karl Vogt")}
    assert entity_of(c, "Nordwind") not in {
        entity_of(a, "Nordwind Energie GmbH"),
        entity_of(b, "Nordwind Werft Corp"),
    }
    notes = {x.source: x for x in c.explain if x.rule == "short_form_ambiguous"}
    assert notes["Vogt"].target == "Karl Vogt; Lena Vogt"
    assert notes["Nordwind"].target == "Nordwind Energie GmbH; Nordwind Werft Corp"
    assert notes["Vogt"].entity_id == entity_of(c, "Vogt")


def test_the_kind_of_body_in_an_x_of_y_name_is_no_short_form(doc) -> None:
    # In "Parliament of Norway" the name follows "of": a bare "Parliament" in a related
    # document may be any parliament, while "Nordwind" still finds its company.
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Lena Vogt of Nordwind Energie GmbH spoke to the Parliament of Norway in Oslo.",
        [
            ("Lena Vogt", "person"),
            ("Nordwind Energie GmbH", "organization"),
            ("Parliament of Norway", "organization"),
            ("Oslo", "location"),
        ],
    )
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Lena Vogt of Nordwind told Parliament in Oslo.",
        [
            ("Lena Vogt", "person"),
            ("Nordwind", "organization"),
            ("Parliament", "organization"),
            ("Oslo", "location"),
        ],
    )
    assert entity_of(b, "Nordwind") == entity_of(a, "Nordwind Energie GmbH")
    assert entity_of(b, "Parliament") != entity_of(a, "Parliament of Norway")


def test_a_short_form_needs_a_related_document(doc) -> None:
    resolver = EntityResolver()
    _, a = run(resolver, doc, *NORDWIND)
    # Nothing else in common with a.txt: "Vogt" may be anyone.
    _, b = run(
        resolver, doc, "b.txt", "Vogt painted Lisbon.", [("Vogt", "person"), ("Lisbon", "location")]
    )
    assert entity_of(b, "Vogt") != entity_of(a, "Lena Vogt")


def test_two_cambridges_are_not_joined_by_the_short_form_rule(doc) -> None:
    resolver = EntityResolver()
    _, a = run(
        resolver,
        doc,
        "a.txt",
        "Arm Holdings is based in Cambridge Science Park near London, like Cambridge Analytica "
        "Ltd and Cambridge Instruments Ltd, says Tim Berners-Lee.",
        [
            ("Arm Holdings", "organization"),
            ("Cambridge Science Park", "location"),
            ("London", "location"),
            ("Cambridge Analytica Ltd", "organization"),
            ("Cambridge Instruments Ltd", "organization"),
            ("Tim Berners-Lee", "person"),
        ],
    )
    _, b = run(
        resolver,
        doc,
        "b.txt",
        "Tim Berners-Lee moved from London to Cambridge to work with Arm Holdings and Cambridge.",
        [
            ("Tim Berners-Lee", "person"),
            ("London", "location"),
            ("Cambridge", "location"),
            ("Arm Holdings", "organization"),
            ("Cambridge", "organization"),
        ],
    )
    places = {entity_of(a, "Cambridge Science Park")}
    orgs = {entity_of(a, "Cambridge Analytica Ltd"), entity_of(a, "Cambridge Instruments Ltd")}
    town, org = (m.entity_id for m in b.mentions if m.text == "Cambridge")
    assert town not in places  # places never link by a name's first word
    assert org not in orgs  # two organizations start with it: ambiguous
    assert any(x.rule == "short_form_ambiguous" and x.source == "Cambridge" for x in b.explain)
