"""Bytes to text for the text formats: byte order marks, UTF-8, then detection.

:func:`decode_text` tries, in order:

1. a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE): that encoding, BOM dropped;
2. strict UTF-8;
3. charset-normalizer's detection. Short Western texts are ambiguous between the
   single-byte code pages (Windows-1250/1252/1257 decode them all without error), so
   when Windows-1252 is as plausible as the best guess, Windows-1252 wins: it is by far
   the most common legacy encoding, and a superset of Latin-1's printable characters.

The encoding used is returned, so loaders record it in ``Document.metadata["encoding"]``.
Only input that no encoding decodes fails, with the reason.
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

from kgbuild.ingest.base import LoadError, LoadOptions

__all__ = ["binary_reason", "decode_text", "read_text_file"]

logger = logging.getLogger(__name__)

_BOMS = (  # UTF-32 first: its LE BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)

#: Leading bytes of common binary formats that may hide behind a text extension.
_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # zip, docx, xlsx, epub
    b"\x1f\x8b",  # gzip
    b"\x7fELF",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
)
SNIFF_BYTES = 8192
#: How much worse (chaos) or less coherent Windows-1252 may be and still win a tie.
_TIE_CHAOS = 0.01
_TIE_COHERENCE = 0.05


def _bom(data: bytes) -> tuple[int, str, str] | None:
    """(BOM length, codec, name to record) of a leading byte order mark, or None."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return len(bom), codec, name
    return None


def binary_reason(head: bytes) -> str | None:
    """Why these leading bytes look like binary data, or None if they look like text.

    Text with a UTF-16/32 byte order mark is text (it has NUL bytes, but a BOM).
    """
    if _bom(head) is not None:
        return None
    if head.startswith(_MAGIC):
        return "skipped: binary/unsupported (binary file signature)"
    if b"\x00" in head:
        return "skipped: binary/unsupported (contains NUL bytes)"
    return None


def decode_text(data: bytes, encoding: str | None = None, base: int = 0) -> tuple[str, str]:
    """``(text, encoding name)`` of ``data``.

    Args:
        data: The file's bytes.
        encoding: Force this encoding (any Python codec name); None detects it.
        base: File offset of ``data`` (for a JSONL line), used in error messages.

    Raises:
        LoadError: the bytes are not valid in the forced encoding, or no encoding fits.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise LoadError(f"unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as err:
            raise LoadError(f"not valid {encoding} (byte offset {base + err.start})") from None
    found = _bom(data)
    if found is not None:
        size, codec, name = found
        try:
            return data[size:].decode(codec), name
        except UnicodeDecodeError as err:
            at = base + size + err.start
            reason = f"not valid {codec.upper()} after its byte order mark (byte offset {at})"
            raise LoadError(reason) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        first_bad = base + err.start
    detected = _detect(data)
    if detected is None:
        raise LoadError(
            f"not valid UTF-8 (byte offset {first_bad}) and no other encoding fits; "
            "give the encoding (LoadOptions.encoding)"
        )
    logger.debug("detected encoding %s (not UTF-8 from byte %d)", detected, first_bad)
    return data.decode(detected), detected


def _detect(data: bytes) -> str | None:
    """charset-normalizer's best encoding for ``data``, ties going to Windows-1252."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    if best.encoding != "cp1252":
        for m in matches[1:]:
            if (
                m.encoding == "cp1252"
                and m.chaos <= best.chaos + _TIE_CHAOS
                and m.coherence >= best.coherence - _TIE_COHERENCE
            ):
                return "cp1252"
        if _plausible_cp1252(data, best.chaos):
            return "cp1252"
    return str(best.encoding)


def _plausible_cp1252(data: bytes, best_chaos: float) -> bool:
    """Windows-1252 decodes ``data`` and charset-normalizer finds it no messier than the best."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    from charset_normalizer import from_bytes

    only = from_bytes(data, cp_isolation=["cp1252"]).best()
    return only is not None and only.chaos <= best_chaos + _TIE_CHAOS


def read_text_file(path: Path, options: LoadOptions) -> tuple[str, str]:
    """``(text, encoding)`` of a text file: refuses binary content, decodes as above.

    Raises:
        LoadError: binary content, or bytes no encoding decodes.
    """
    data = path.read_bytes()
    if (reason := binary_reason(data[:SNIFF_BYTES])) is not None:
        raise LoadError(reason)
    return decode_text(data, options.encoding)
