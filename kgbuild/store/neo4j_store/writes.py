"""The Neo4j store's writes: documents replaced group by group, and removed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction
from neo4j.exceptions import (
    DriverError,
    Neo4jError,
)

from kgbuild.store.base import (
    StoreError,
    document_properties,
    gc_paused,
    read_ahead,
)
from kgbuild.store.neo4j_store.connection import RETRYABLE_CREATE, Neo4jConnection
from kgbuild.store.neo4j_store.cypher import (
    _CREATE_MENTIONS,
    _DELETE_CHUNK_IDS,
    _DELETE_CHUNKS,
    _DELETE_DOCUMENTS,
    _DELETE_ENTITIES,
    _DELETE_MENTIONS,
    _DOCUMENTS_WITH_STATE,
    _EXISTING_ENTITIES,
    _EXISTING_MENTIONS,
    _LINK_CHUNKS,
    _LINK_MENTIONS,
    _LINK_NEW_ENTITIES,
    _MARK_DOCUMENTS_REMOVING,
    _MENTION_BATCH,
    _STORED_CHUNKS,
    _STORED_MENTIONS,
    _STORED_RELATIONS,
    _STRIP_EVIDENCE,
    _STRIP_EVIDENCE_OF,
    _UNLINK_CHUNKS,
    _UPDATE_ENTITIES,
    _UPDATE_MENTIONS,
    _WRITE_CHUNKS,
    _WRITE_DOCUMENTS,
    EVIDENCE_FIELDS,
    _create_entities_query,
    _create_relations_query,
    _read_evidence_query,
    _update_relations_query,
)
from kgbuild.store.neo4j_store.rows import (
    _batches,
    _check,
    _Checked,
    _count_rows,
    _described,
    _name_ids,
    _Plan,
    _records,
    _refresh_entities,
    _relation_props,
    _run_rows,
    _union,
)
from kgbuild.types import DocumentGraph

logger = logging.getLogger(__name__)


class WriteError(StoreError):
    """Writing a group of documents failed for good; ``document_ids`` lists the group.

    None of these documents has its Document node, so a re-run writes them again.
    """

    def __init__(self, message: str, document_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.document_ids = list(document_ids)


class Neo4jWrites(Neo4jConnection):
    """Writing and removing documents (see "How a write works" in
    :mod:`kgbuild.store.neo4j_store`); a base of :class:`~kgbuild.store.neo4j_store.Neo4jStore`."""

    #: Recorded on documents; set by the pipeline before writing.
    model_id: str | None = None
    schema_fingerprint: str | None = None

    # -- writes -----------------------------------------------------------------------------

    def write_documents(self, graphs: Iterable[DocumentGraph]) -> None:
        """Replace each document's previous graph and write the new one.

        Each graph is checked before anything of it is written: a bad one raises
        ``ValueError`` (:class:`~kgbuild.schema.InvalidTypeName` for a type that cannot be
        a label) naming the document, after the documents before it are written. A group
        of documents that fails for good raises :class:`WriteError` naming them; earlier
        groups stay written, later ones are not attempted.
        """
        # Checking the graphs and turning them into rows (Python) runs one group ahead in
        # a thread, while this thread waits for the server to write the group before. No
        # cyclic GC meanwhile (see gc_paused): a write makes many rows and no cycles.
        with gc_paused():
            for pending, plan in read_ahead(self._groups(graphs)):
                self._flush(pending, plan)

    def _groups(self, graphs: Iterable[DocumentGraph]) -> Iterator[tuple[list[_Checked], _Plan]]:
        """Checked documents in groups of about ``group_rows`` rows, each with its rows.

        A graph that fails its check ends the groups: the documents before it come as a
        last group (written as if one by one), then the ``ValueError`` is raised.
        """
        pending: list[_Checked] = []
        rows = 0
        for graph in graphs:
            try:
                checked = _check(graph)
            except ValueError:
                if pending:
                    yield pending, self._plan(pending)
                raise
            pending.append(checked)
            rows += checked.size()
            if rows >= self.group_rows:
                yield pending, self._plan(pending)
                pending, rows = [], 0
        if pending:
            yield pending, self._plan(pending)

    def _plan(self, group: list[_Checked]) -> _Plan:
        """The rows of ``group`` written together (see :meth:`_flush` for when they are)."""
        plan = _Plan()
        for checked in group:
            plan.add(checked, self._document_props(checked.graph))
        plan.prepare()
        return plan

    def _flush(self, pending: list[_Checked], plan: _Plan | None = None) -> None:
        """Write checked documents: new ones in groups, re-written ones one at a time.

        ``plan``: the rows of all of ``pending``, used when they are written as one group.
        """
        if not pending:
            return
        needed = set().union(*(c.external_entities for c in pending))
        known = self._existing_entities(needed)
        for i, checked in enumerate(pending):
            missing = checked.external_entities - known
            if missing:
                self._flush(pending[:i])
                doc = checked.graph.document
                raise ValueError(
                    f"document {doc.id} ({doc.source}): refers to unknown entity "
                    f"{sorted(missing)[0]} (neither in its graph nor in the store)"
                )
            known |= set(checked.entity_labels)

        # Documents the store holds something of (written before, or interrupted) are
        # cleaned up first, all of a group together; a document given twice starts a new
        # group, so the second version replaces the first as if written one by one.
        has_state = self._documents_with_state([c.id for c in pending])
        if len({c.id for c in pending}) < len(pending):
            plan = None  # split into groups below
        group: list[_Checked] = []
        for checked in pending:
            if any(c.id == checked.id for c in group):
                self._write_group(group, [c.id for c in group if c.id in has_state])
                has_state.update(c.id for c in group)
                group = []
            group.append(checked)
        if group:
            self._write_group(group, [c.id for c in group if c.id in has_state], plan)

    def _existing_entities(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        rows = self._read(_EXISTING_ENTITIES, "looking up entities", ids=sorted(ids))
        return {r["id"] for r in rows}

    def _documents_with_state(self, ids: list[str]) -> set[str]:
        rows = self._read(_DOCUMENTS_WITH_STATE, "looking up documents", ids=ids)
        return {r["id"] for r in rows}

    def _document_props(self, graph: DocumentGraph) -> dict[str, Any]:
        return document_properties(
            graph,
            model_id=self.model_id,
            schema_fingerprint=self.schema_fingerprint,
            ingested_at=datetime.now(UTC),
        )

    def _write_group(
        self, group: list[_Checked], clean: list[str], plan: _Plan | None = None
    ) -> None:
        """Write documents together, after removing what the store holds of ``clean``
        (``plan``: their rows, if made already)."""
        if plan is None:
            plan = self._plan(group)
        ids = plan.document_ids
        try:
            if clean:
                for _, step in self._replace_steps(clean, plan):
                    step()
            self._write_rows(_WRITE_CHUNKS, plan.chunks, "writing chunks")
            self._write_rows(_LINK_CHUNKS, plan.next_links, "linking chunks")
            self._write_mentions([m for m in plan.mentions if m["id"] not in plan.kept], clean)
            created = self._write_entities(plan)
            for rel_type, rows in plan.relations.items():
                self._write_relations(
                    rel_type, list(rows.values()), set(ids), created, plan.new_relation_props
                )
            self._write_rows(_WRITE_DOCUMENTS, plan.documents, "writing documents")
        except (Neo4jError, DriverError) as exc:
            raise WriteError(
                f"writing {len(ids)} document(s) failed (transient errors retried up to "
                f"{self.max_retries} times); they are not committed and the next run writes "
                f"them again ({_name_ids(ids)}): {self._redact(f'{type(exc).__name__}: {exc}')}",
                ids,
            ) from exc
        logger.debug("wrote %d document(s), %d rows", len(ids), plan.size())

    def _write_mentions(self, rows: list[dict[str, Any]], clean: Sequence[str] = ()) -> None:
        """Create new mentions, update stored ones. Only mentions of ``clean`` documents
        (those the store held something of) can be stored: the others are not looked up."""
        had_state = set(clean)
        for batch in _batches(rows, self.batch_size):

            def work(tx: ManagedTransaction, b=batch) -> None:
                ids = [r["id"] for r in b if r["props"].get("document_id") in had_state]
                stored = (
                    {rec["id"] for rec in tx.run(_EXISTING_MENTIONS, ids=ids)} if ids else set()
                )
                _run_rows(tx, _CREATE_MENTIONS, [r for r in b if r["id"] not in stored])
                _run_rows(tx, _UPDATE_MENTIONS, [r for r in b if r["id"] in stored])

            self._transaction(work, "writing mentions", retry_on=RETRYABLE_CREATE)

    def _write_entities(self, plan: _Plan) -> set[str]:
        """Write the plan's entities and their REFERS_TO edges; the ids of those created."""
        created: set[str] = set()
        entity_ids = {eid for rows in plan.entities.values() for eid in rows}
        links_by_entity: dict[str, list[dict[str, str]]] = {}
        for link in plan.links:
            if link["mention_id"] not in plan.kept:  # kept: its REFERS_TO is there
                links_by_entity.setdefault(link["entity_id"], []).append(link)
        mention_props = {m["id"]: m["props"] for m in plan.mentions}
        for label, by_id in plan.entities.items():
            create = _create_entities_query(label)
            for batch in _batches(list(by_id.values()), self.batch_size):
                ids = [r["id"] for r in batch]
                links = [link for i in ids for link in links_by_entity.get(i, [])]

                # One transaction per batch: an entity never exists without the REFERS_TO
                # edges through which the clean-up of its documents finds it.
                def work(
                    tx: ManagedTransaction, q=create, b=batch, links=links, ids=ids
                ) -> list[str]:
                    stored = {rec["id"] for rec in tx.run(_EXISTING_ENTITIES, ids=ids)}
                    new = [
                        plan.described[r["id"]]
                        if not plan.kept  # else: described without the kept mentions
                        else _described(r, links_by_entity.get(r["id"], ()), mention_props)
                        for r in b
                        if r["id"] not in stored
                    ]
                    _run_rows(tx, q, new)
                    # A stored entity changes only through mentions linked to it now (those
                    # that left it were counted off when they were removed).
                    stored &= set(links_by_entity)
                    _run_rows(tx, _UPDATE_ENTITIES, [r for r in b if r["id"] in stored])
                    new_links = [link for link in links if link["entity_id"] not in stored]
                    _run_rows(tx, _LINK_NEW_ENTITIES, new_links)
                    old_links = [link for link in links if link["entity_id"] in stored]
                    _run_rows(tx, _LINK_MENTIONS, old_links)
                    old = [i for i in ids if i in stored]  # stored and linked to anew
                    if old:
                        _refresh_entities(tx, old, fallback=b)
                    return [r["id"] for r in new]

                created.update(
                    self._transaction(work, f"writing {label} entities", retry_on=RETRYABLE_CREATE)
                )
        # Mentions resolved to entities the store holds but these graphs do not carry.
        outside = [
            link
            for link in plan.links
            if link["entity_id"] not in entity_ids and link["mention_id"] not in plan.kept
        ]
        for batch in _batches(outside, self.batch_size):

            def relink(tx: ManagedTransaction, b=batch) -> None:
                _run_rows(tx, _LINK_MENTIONS, b)
                _refresh_entities(tx, _union(r["entity_id"] for r in b))

            self._transaction(relink, "linking mentions to existing entities")
        return created

    def _write_relations(
        self,
        rel_type: str,
        rows: list[dict[str, Any]],
        replaced: set[str],
        created: AbstractSet[str] = frozenset(),
        new_props: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Create new relation edges, merge evidence into stored ones. An edge with an end
        among the ``created`` entities (new in this write) cannot be stored: its stored
        evidence is not looked up (on a first ingest, most edges). ``new_props``: the
        properties of edges not stored, by id, if computed already."""
        new_props = new_props or {}
        read = _read_evidence_query(rel_type)
        create, update = _create_relations_query(rel_type), _update_relations_query(rel_type)
        for batch in _batches(rows, self.batch_size):
            # Read and merge the stored evidence in the same transaction as the write, so
            # no other write can slip in between.
            def work(tx: ManagedTransaction, b=batch) -> tuple[int, int]:
                keys = [
                    {"id": r["id"], "head_id": r["head_id"], "tail_id": r["tail_id"]}
                    for r in b
                    if r["head_id"] not in created and r["tail_id"] not in created
                ]
                stored = {r["id"]: r for r in _records(tx.run(read, rows=keys))} if keys else {}
                out = [
                    {
                        "id": r["id"],
                        "head_id": r["head_id"],
                        "tail_id": r["tail_id"],
                        "props": new_props[r["id"]]
                        if r["id"] not in stored and r["id"] in new_props
                        else _relation_props(r, stored.get(r["id"]), replaced),
                    }
                    for r in b
                ]
                new = [r for r in out if r["id"] not in stored]
                old = [
                    r
                    for r in out
                    if r["id"] in stored
                    and any(stored[r["id"]][f] != r["props"][f] for f in EVIDENCE_FIELDS)
                ]  # a relation whose evidence is as stored is left alone
                written = _count_rows(tx, create, new) + _count_rows(tx, update, old)
                return written, len(new) + len(old)

            written, meant = self._transaction(
                work, f"writing {rel_type} relations", retry_on=RETRYABLE_CREATE
            )
            if written < meant:  # cannot happen after _flush's checks; say so if it does
                logger.warning(
                    "%d of %d %s relations not written: head or tail entity missing",
                    meant - written,
                    meant,
                    rel_type,
                )

    # -- removal ----------------------------------------------------------------------------

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove documents with their chunks, mentions and relation evidence.

        Entities and relations left without evidence are removed; the rest stay, with
        ``mention_count``, evidence lists and ``score`` updated. Unknown ids are ignored.
        """
        for batch in _batches(_union(document_ids), self.batch_size):
            try:
                self._remove(list(batch))
            except (Neo4jError, DriverError) as exc:
                raise StoreError(
                    f"deleting documents failed ({_name_ids(batch)}): "
                    f"{self._redact(f'{type(exc).__name__}: {exc}')}"
                ) from exc

    def _remove(self, ids: list[str]) -> None:
        """Remove what the store holds of these documents; see :meth:`_removal_steps`."""
        for _, step in self._removal_steps(ids):
            step()

    def _removal_steps(self, ids: list[str]) -> list[tuple[str, Callable[[], None]]]:
        """The transactions that remove documents, in order; each one is idempotent.

        The Document node is the commit marker, so it is *marked* first (its content hash
        emptied: no file matches it) and deleted last. A run killed in between leaves a
        Document node that the next run sees as changed (file still there: re-written) or
        deleted (pruned again), never leftovers that no run knows about.
        """
        limit = self.batch_size

        def loop(query: str, column: str, what: str) -> Callable[[], None]:
            def run() -> None:
                while self._transaction(
                    lambda tx: tx.run(query, ids=ids, limit=limit).single()[column], what
                ):
                    pass

            return run

        def statement(query: str, what: str) -> Callable[[], None]:
            return lambda: self._transaction(lambda tx: tx.run(query, ids=ids).consume(), what)

        def mentions(tx: ManagedTransaction) -> int:
            # Mentions and their entities' counts change in one transaction, so an entity
            # never keeps a count (or survives) without the mentions behind it.
            found = tx.run(_MENTION_BATCH, ids=ids, limit=limit).single()
            if not found["mention_ids"]:
                return 0
            tx.run(_DELETE_MENTIONS, ids=found["mention_ids"]).consume()
            orphans = _refresh_entities(tx, found["entity_ids"])
            if orphans:
                tx.run(_DELETE_ENTITIES, ids=[o["id"] for o in orphans]).consume()
            return len(found["mention_ids"])

        def remove_mentions() -> None:
            while self._transaction(mentions, "removing mentions"):
                pass

        return [
            ("mark documents", statement(_MARK_DOCUMENTS_REMOVING, "marking documents")),
            ("relation evidence", loop(_STRIP_EVIDENCE, "touched", "removing relation evidence")),
            ("mentions", remove_mentions),
            ("chunks", loop(_DELETE_CHUNKS, "n", "removing chunks")),
            ("documents", statement(_DELETE_DOCUMENTS, "removing documents")),
        ]

    def _replace_steps(self, ids: list[str], plan: _Plan) -> list[tuple[str, Callable[[], None]]]:
        """The transactions that make way for new versions of documents the store holds:
        like :meth:`_removal_steps`, but only what the new versions (``plan``) lack goes:
        relation evidence of relations they no longer state, mentions that are gone or
        now sit in another chunk or refer to another entity, chunks that are gone, and
        ``NEXT`` edges between chunks that are no longer consecutive. The rest is
        updated in place by the write, so re-writing an unchanged document deletes and
        re-creates nothing. The Document node is marked first, as for a removal, and
        written last by the write."""
        limit = self.batch_size

        def mark() -> None:
            self._transaction(
                lambda tx: tx.run(_MARK_DOCUMENTS_REMOVING, ids=ids).consume(), "marking documents"
            )

        def evidence() -> None:
            stored = self._read(_STORED_RELATIONS, "reading relation evidence", ids=ids)
            keep = {rid for rows in plan.relations.values() for rid in rows}
            stale = [r for r in stored if r["id"] not in keep]
            for batch in _batches(stale, limit):
                self._transaction(
                    lambda tx, b=batch: tx.run(_STRIP_EVIDENCE_OF, rows=b, ids=ids).consume(),
                    "removing relation evidence",
                )

        def mentions() -> None:
            entity_of = {link["mention_id"]: link["entity_id"] for link in plan.links}
            props_of = {m["id"]: {**m["props"], "id": m["id"]} for m in plan.mentions}
            stale = []
            for m in self._read(_STORED_MENTIONS, "reading mentions", ids=ids):
                new = props_of.get(m["id"])
                if (
                    new is None
                    or m["chunk_id"] != new["chunk_id"]
                    or m["entity_ids"] != ([entity_of[m["id"]]] if m["id"] in entity_of else [])
                ):
                    stale.append(m)
                elif m["props"] == new:
                    plan.kept.add(m["id"])
            for batch in _batches(stale, limit):

                def work(tx: ManagedTransaction, b=batch) -> None:
                    tx.run(_DELETE_MENTIONS, ids=[m["id"] for m in b]).consume()
                    orphans = _refresh_entities(tx, _union(*(m["entity_ids"] for m in b)))
                    if orphans:
                        tx.run(_DELETE_ENTITIES, ids=[o["id"] for o in orphans]).consume()

                self._transaction(work, "removing mentions")

        def chunks() -> None:
            keep = {c["id"] for c in plan.chunks}
            pairs = {(n["first"], n["second"]) for n in plan.next_links}
            stored = self._read(_STORED_CHUNKS, "reading chunks", ids=ids)
            gone = [c["id"] for c in stored if c["id"] not in keep]
            unlink = [
                {"first": c["id"], "second": n}
                for c in stored
                if c["id"] in keep
                for n in c["next"]
                if (c["id"], n) not in pairs
            ]
            for batch in _batches(gone, limit):
                self._transaction(
                    lambda tx, b=batch: tx.run(_DELETE_CHUNK_IDS, ids=b).consume(),
                    "removing chunks",
                )
            self._write_rows(_UNLINK_CHUNKS, unlink, "unlinking chunks")

        return [
            ("mark documents", mark),
            ("relation evidence", evidence),
            ("mentions", mentions),
            ("chunks", chunks),
        ]
