"""JSON Lines (.jsonl): one document per line, read as a stream.

The text and id fields are configurable (:class:`~kgbuild.ingest.LoadOptions`); the
other scalar fields of a record become its metadata. A bad line gives a failure
naming it (``"line N: ..."``) and the rest go on. JSON is UTF-8 by definition, so
lines are decoded as strict UTF-8 (a BOM dropped); a bad byte names its file offset.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kgbuild.ingest.base import LoadFailure, LoadOptions, fail, new_document, register_loader
from kgbuild.ingest.decoding import SNIFF_BYTES, binary_reason
from kgbuild.types import Document

__all__ = ["load_jsonl"]


def _decode(raw: bytes, uri: str, where: str, base: int) -> str | LoadFailure:
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        return fail(uri, f"{where}not valid UTF-8 (byte offset {base + bom + err.start})")


def load_jsonl(path: Path, options: LoadOptions) -> Iterator[Document | LoadFailure]:
    """One document per line; a bad line gives a failure naming it and the rest go on."""
    uri = path.as_uri()
    text_field, id_field = options.jsonl_text_field, options.jsonl_id_field
    first_line_of: dict[str, int] = {}  # fragment -> line, to refuse duplicate ids
    records = 0  # non-blank lines
    byte_offset = 0
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        fh.seek(0)
        if (reason := binary_reason(head) or _wide(head)) is not None:
            yield fail(uri, reason)
            return
        for line_no, raw in enumerate(fh, start=1):
            base, byte_offset = byte_offset, byte_offset + len(raw)
            if not raw.strip():
                continue
            records += 1
            where = f"line {line_no}: "
            if len(raw) > options.max_bytes:
                yield fail(uri, f"{where}too large: {len(raw)} bytes > max_bytes")
                continue
            line = _decode(raw, uri, where=where, base=base)
            if isinstance(line, LoadFailure):
                yield line
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                problem = err.msg.removesuffix(" at")
                yield fail(uri, f"{where}not valid JSON ({problem} at column {err.colno})")
                continue
            if not isinstance(record, dict):
                yield fail(uri, f"{where}not a JSON object")
                continue
            text = record.get(text_field)
            if not isinstance(text, str):
                problem = "missing" if text is None else "not a string"
                yield fail(uri, f"{where}text field {text_field!r} {problem}")
                continue
            if not text.strip():
                yield fail(uri, f"{where}empty")
                continue
            raw_id = record.get(id_field)
            if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id):
                fragment = quote(str(raw_id), safe="-._~!$&'()*+,;=:@/?")
            else:
                fragment = str(line_no)
            if fragment in first_line_of:
                yield fail(
                    uri,
                    f"{where}duplicate id {fragment!r} (first on line {first_line_of[fragment]})",
                )
                continue
            first_line_of[fragment] = line_no
            metadata: dict[str, Any] = {
                key: value
                for key, value in record.items()
                if key != text_field and isinstance(value, str | int | float | bool)
            }
            # The loader's own keys win over record fields of the same name.
            metadata.update({"path": str(path), "format": "jsonl", "line": line_no})
            yield new_document(path, text, metadata, fragment=fragment)
    if records == 0:
        yield fail(uri, "empty")


def _wide(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "skipped: binary/unsupported (UTF-16 JSONL; JSON Lines must be UTF-8)"
    return None


register_loader([".jsonl"], load_jsonl, format="jsonl", check_size=False)
