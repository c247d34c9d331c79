"""Engine values as plain Python, as the Neo4j store returns them: the rows of a
query on the embedded ArcadeDB engine (:mod:`kgbuild.store.cypher_embedded`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["plain", "result_row"]

_JAVA: dict[str, Any] = {}
_TEMPORAL = "com.arcadedb.query.opencypher.temporal."


def result_row(result: Any) -> dict[str, Any]:
    java = result._java_result
    return {str(name): plain(java.getProperty(name)) for name in java.getPropertyNames()}


def _java_types() -> dict[str, Any]:
    """The Java classes :func:`plain` tests values against (looked up once)."""
    if not _JAVA:
        import jpype
        from arcadedb_embedded.type_conversion import convert_java_to_python

        _JAVA.update(
            object=jpype.JObject,
            document=jpype.JClass("com.arcadedb.database.Document"),
            path=jpype.JClass("com.arcadedb.query.opencypher.traversal.TraversalPath"),
            map=jpype.JClass("java.util.Map"),
            iterable=jpype.JClass("java.lang.Iterable"),
            convert=convert_java_to_python,
        )
    return _JAVA


def plain(value: Any) -> Any:
    """An engine value as plain Python: vertices and edges become dicts of properties,
    paths lists of them, as the Neo4j store returns them."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    java = _java_types()
    if isinstance(value, java["object"]):
        if isinstance(value, java["document"]):
            return {str(n): plain(value.get(n)) for n in sorted(value.getPropertyNames())}
        if isinstance(value, java["path"]):
            return [plain(v) for v in value.getVertices()]
        if str(value.getClass().getName()).startswith(_TEMPORAL):
            return _temporal(value)
        if isinstance(value, java["map"]):
            return {str(k): plain(v) for k, v in value.entrySet()}
        if isinstance(value, java["iterable"]):
            return [plain(v) for v in value]
    converted = java["convert"](value)
    if isinstance(converted, list | tuple):
        return [plain(v) for v in converted]
    if isinstance(converted, dict):
        return {str(k): plain(v) for k, v in converted.items()}
    return converted


def _temporal(value: Any) -> str:
    """An engine temporal as the Neo4j store returns it: the ISO 8601 text of the Neo4j
    driver's ``neo4j.time`` value (``2024-01-02T03:04:05.000000000+00:00``, durations
    ``P1DT2H``), so both stores give the same strings."""
    from datetime import timedelta, timezone

    from neo4j.time import Date, DateTime, Duration, Time

    kind = str(value.getClass().getSimpleName())
    if kind == "CypherDuration":
        return str(
            Duration(
                months=int(value.getMonths()),
                days=int(value.getDays()),
                seconds=int(value.getSeconds()),
                nanoseconds=int(value.getNanosAdjustment()),
            ).iso_format()
        )
    java = value.getValue()

    def offset(seconds: int) -> timezone:
        return timezone(timedelta(seconds=seconds))

    def time_of(t: Any, tz: timezone | None = None) -> Time:
        return Time(t.getHour(), t.getMinute(), t.getSecond(), t.getNano(), tzinfo=tz)

    if kind == "CypherDate":
        return str(Date(java.getYear(), java.getMonthValue(), java.getDayOfMonth()).iso_format())
    if kind == "CypherLocalTime":
        return str(time_of(java).iso_format())
    if kind == "CypherTime":
        return str(time_of(java, offset(java.getOffset().getTotalSeconds())).iso_format())
    if kind in ("CypherLocalDateTime", "CypherDateTime"):
        tz = offset(java.getOffset().getTotalSeconds()) if kind == "CypherDateTime" else None
        date = java.toLocalDate()
        clock = time_of(java.toLocalTime(), tz)
        return str(
            DateTime.combine(
                Date(date.getYear(), date.getMonthValue(), date.getDayOfMonth()), clock
            ).iso_format()
        )
    return str(value.toString())  # a temporal kind this version does not know: ISO text
