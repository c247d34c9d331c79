"""Deterministic ids: the same input gives the same id on every run and machine."""

from __future__ import annotations

import hashlib


def _digest(*parts: object) -> str:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:24]


def content_hash(text: str) -> str:
    """sha256 of a document's text (full hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(source: str) -> str:
    """Id of a document from its source URI (or ``file#id`` for JSONL records)."""
    return "doc:" + _digest(source)


def chunk_id(doc_id: str, start: int, end: int) -> str:
    return "chunk:" + _digest(doc_id, start, end)


def mention_id(doc_id: str, start: int, end: int, label: str) -> str:
    return "mention:" + _digest(doc_id, start, end, label)


def entity_id(entity_type: str, canonical_key: str) -> str:
    """Id of an entity from its type and canonical (normalized) key."""
    return "entity:" + _digest(entity_type, canonical_key)


def relation_id(head_id: str, relation_type: str, tail_id: str) -> str:
    return "rel:" + _digest(head_id, relation_type, tail_id)
