"""Run read-only Cypher on a NetworkX graph with grand-cypher (the pure-Python engine).

The NetworkX store's default engine is embedded ArcadeDB
(:mod:`kgbuild.store.cypher_embedded`), which runs full read-only Cypher;
``NetworkXStore(path, cypher_engine="grand-cypher")`` (or
``KGBUILD_CYPHER_ENGINE=grand-cypher``) uses this module instead, with no Java.

grand-cypher matches Cypher patterns on a ``networkx.MultiDiGraph`` whose nodes and
edges carry a ``__labels__`` set. It covers a useful subset of Cypher (``MATCH`` with
labels and property maps, several ``MATCH`` clauses, ``WHERE`` with comparisons,
``IN [literal list]``, ``CONTAINS``/``STARTS WITH``, ``RETURN ... AS``, ``COUNT``/``SUM``/
``AVG``/``MIN``/``MAX``/``COLLECT`` in upper case, ``type(r)``, ``ORDER BY``, ``SKIP``,
``LIMIT``) but not everything Neo4j runs. What this module adds on top:

* **Parameters.** grand-cypher has no ``$param`` support, so :func:`bind_parameters`
  replaces each ``$name`` outside strings and comments by a literal. A string value
  always becomes one complete, escaped string literal, so no value can change the
  structure of the query.
* **Neo4j-shaped rows.** :func:`run_cypher` returns a list of dicts, one per row, keyed
  by the column names as written in ``RETURN`` (or the ``AS`` alias), in ``RETURN``
  order, like ``neo4j.Record.data()``. Nodes and relationships come back as dicts of
  their properties.
* **Known grand-cypher 1.2 pitfalls, worked around:** its index hints treat ``OR``
  between conditions on different variables as ``AND`` (rows go missing), so hints
  are switched off for queries with ``OR``; an aggregate-only ``RETURN`` over no
  matches gives one row (``COUNT`` 0) as in Neo4j instead of none.
* **A relationship looked up by id is found first.** grand-cypher applies ``WHERE`` only
  after matching the whole pattern, so ``MATCH (h)-[r]->(t) ... WHERE r.id = $id``
  would enumerate every match in the graph; when ``WHERE`` requires ``r.id`` to equal a
  string, the search starts from the source node(s) of that relationship instead.

Portable queries (that also run on Neo4j 5) stay within: double-quoted strings,
upper-case aggregate names, one pattern per ``MATCH`` (no commas), a single ``WHERE``
after the last ``MATCH``, no ``OPTIONAL MATCH``/``WITH``/``UNWIND``, no pattern
predicates, explicit ``ASC``/``DESC``, no ``DISTINCT`` with ``ORDER BY``, list parameters
only right of ``IN`` (``x IN r.list`` does not parse), and no undirected ``-[r]-``
patterns (grand-cypher requires edges in both directions for those). grand-cypher also
binds distinct pattern nodes to distinct graph nodes, where Neo4j only keeps
relationships distinct.
"""

from __future__ import annotations

import ast
import logging
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import networkx as nx

from kgbuild.store.base import StoreError

__all__ = ["CypherError", "bind_parameters", "run_cypher"]

logger = logging.getLogger(__name__)


class CypherError(StoreError):
    """A Cypher query that grand-cypher cannot parse or run, or a bad parameter."""


# One alternation, scanned left to right, so "$x" inside a string or comment is left alone.
_LEXEME = re.compile(
    r"""
      (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<quoted>`[^`]*`)
    | \$(?P<param>[A-Za-z0-9_]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_AGGREGATE = re.compile(r"^(COUNT|SUM|AVG|MIN|MAX|COLLECT)\s*\(", re.IGNORECASE)
_RETURN_END = re.compile(r"\b(ORDER\s+BY|SKIP|LIMIT)\b", re.IGNORECASE)


def _code_only(cypher: str) -> str:
    """The query with strings, comments and quoted names blanked out (same length)."""

    def blank(m: re.Match[str]) -> str:
        if m.group("param") is not None:
            return m.group(0)
        return " " * len(m.group(0))

    return _LEXEME.sub(blank, cypher)


def _string_literal(value: str) -> str:
    """A double-quoted literal that grand-cypher reads back as exactly ``value``.

    grand-cypher lexes ``"..."`` (no raw newline, backslash escapes) and then evaluates
    the token as a Python string literal, so everything outside printable ASCII is
    written as a ``\\u``/``\\U`` escape and only ``\\`` and ``"`` need escaping besides.
    """
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _literal(value: Any, name: str) -> str:
    """The Cypher literal for one parameter value (scalars, or a flat list of scalars)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CypherError(f"parameter ${name}: {value!r} has no Cypher literal")
        return repr(value)
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, list | tuple | dict | set):
                raise CypherError(f"parameter ${name}: nested collections are not supported")
            items.append(_literal(item, name))
        return "[" + ", ".join(items) + "]"
    raise CypherError(
        f"parameter ${name}: values of type {type(value).__name__} are not supported "
        "(use str, int, float, bool, None or a list of those)"
    )


def bind_parameters(cypher: str, parameters: Mapping[str, Any] | None = None) -> str:
    """Replace every ``$name`` outside strings and comments by the literal of its value.

    >>> bind_parameters('MATCH (e:Entity) WHERE e.name = $name RETURN e.id', {"name": 'a"b'})
    'MATCH (e:Entity) WHERE e.name = "a\\\\"b" RETURN e.id'

    Raises :class:`CypherError` naming a parameter that the query uses but
    ``parameters`` lacks, or whose value has no literal.
    """
    parameters = dict(parameters or {})
    missing: list[str] = []

    def substitute(m: re.Match[str]) -> str:
        name = m.group("param")
        if name is None:
            return m.group(0)
        if name not in parameters:
            missing.append(name)
            return m.group(0)
        return _literal(parameters[name], name)

    bound = _LEXEME.sub(substitute, cypher)
    if missing:
        raise CypherError(
            f"query {query_summary(cypher)!r} uses parameter(s) "
            f"{', '.join('$' + n for n in sorted(set(missing)))} that were not given"
        )
    return bound


def _split_top_level(text: str) -> Iterator[str]:
    """Split on commas that are not inside brackets (strings are already blanked)."""
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


def _return_items(cypher: str) -> list[tuple[str, str | None]]:
    """``(column name, aggregate function or None)`` for each item of the last ``RETURN``.

    The column name is the alias after ``AS``, else the expression as written, as
    Neo4j names it. Returns ``[]`` where the clause cannot be found.
    """
    code = _code_only(cypher)
    matches = list(re.finditer(r"\bRETURN\b", code, re.IGNORECASE))
    if not matches:
        return []
    start = matches[-1].end()
    end_match = _RETURN_END.search(code, start)
    end = end_match.start() if end_match else len(code)
    clause_code = code[start:end]
    distinct = re.match(r"\s*DISTINCT\b", clause_code, re.IGNORECASE)
    offset = distinct.end() if distinct else 0

    items = []
    position = start + offset
    for part in _split_top_level(clause_code[offset:]):
        original = cypher[position : position + len(part)]
        position += len(part) + 1
        alias = re.search(r"\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", part, re.IGNORECASE)
        expression = original[: alias.start()] if alias else original
        column = alias.group(1) if alias else " ".join(expression.split())
        aggregate = _AGGREGATE.match(expression.strip())
        items.append((column, aggregate.group(1).upper() if aggregate else None))
    return items


def query_summary(cypher: str) -> str:
    """A short name for a query in messages: its first comment line, else its start."""
    for line in cypher.splitlines():
        line = line.strip()
        if line.startswith("//") and line.strip("/ "):
            return line.strip("/ ")[:100]
        if line:
            break
    text = " ".join(cypher.split())
    return text if len(text) <= 100 else text[:97] + "..."


def _plain(value: Any) -> Any:
    """A returned value without grand-cypher's internals: node/edge dicts lose ``__labels__``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k != "__labels__"}
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _empty_aggregate(function: str) -> Any:
    """What Neo4j returns for an aggregate function over no rows."""
    return {"COUNT": 0, "COLLECT": [], "SUM": 0}.get(function)


# `(a ...)-[r ...]->(b ...)` or `(a ...)<-[r ...]-(b ...)`, single hop; a lookahead so
# that chained patterns yield every hop.
_HOP = re.compile(
    r"(?=\(\s*(?P<a>\w+)[^()]*\)\s*(?P<left><)?-\[\s*(?P<r>\w+)\s*(?::[^\]*]*)?\]-"
    r"(?P<right>>)?\s*\(\s*(?P<b>\w+))"
)
_ID_EQUALS = re.compile(r"\b(?P<r>\w+)\.id\s*=\s*(?=\")")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _edge_id_hints(graph: nx.MultiDiGraph, bound: str) -> list[dict[str, Any]] | None:
    """Start-node hints for ``WHERE r.id = "<id>"`` on a relationship variable ``r``.

    Returns ``None`` when the query has no such condition (or one this cannot prove is
    a plain conjunct), ``[]`` when no relationship has that id, else one hint per
    source node: ``[{"h": "entity:..."}]``. Every match of the query maps the pattern's
    source node to the source of an edge with that id, so the hints lose no row.
    (Hinting both ends would be tighter, but grand-cypher 1.2 then drops the matches.)
    """
    code = _code_only(bound)
    if re.search(r"\b(OR|NOT|EXISTS)\b", code, re.IGNORECASE):
        return None
    where = re.search(r"\bWHERE\b", code, re.IGNORECASE)
    if where is None:
        return None
    sources: dict[str, str] = {}  # relationship variable -> its source node variable
    for hop in _HOP.finditer(code[: where.start()]):
        if bool(hop.group("left")) != bool(hop.group("right")):
            sources[hop.group("r")] = hop.group("b") if hop.group("left") else hop.group("a")
    for condition in _ID_EQUALS.finditer(bound, where.end()):
        variable = condition.group("r")
        inside_string = code[condition.start() : condition.end("r")] != variable
        literal = _STRING.match(bound, condition.end())
        if variable not in sources or inside_string or literal is None:
            continue
        try:
            wanted = ast.literal_eval(literal.group(0))  # how grand-cypher reads strings
        except (ValueError, SyntaxError):
            return None  # grand-cypher will report the literal itself
        starts = sorted({u for u, _, i in graph.edges(data="id") if i == wanted})
        return [{sources[variable]: u} for u in starts]
    return None


def run_cypher(
    graph: nx.MultiDiGraph, cypher: str, parameters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run a read query on ``graph``; rows as dicts of column -> value, like Neo4j.

    Raises :class:`CypherError` (naming the query) when grand-cypher cannot parse or
    run it, or a parameter is missing or unsupported.
    """
    # Imported here, not at module level: grand-cypher (and lark) take a noticeable part
    # of a CLI start, and an ingest never runs a query.
    from grandcypher import GrandCypher
    from lark.exceptions import LarkError

    bound = bind_parameters(cypher, parameters)
    hints = _edge_id_hints(graph, bound)
    if hints == []:
        graph = nx.MultiDiGraph()  # no such relationship: no rows (the query is still parsed)
    engine = GrandCypher(graph)
    if re.search(r"\bOR\b", _code_only(cypher), re.IGNORECASE):
        # grand-cypher 1.2's index hints intersect the two sides of an OR that name
        # different variables (rows go missing); both hint kinds must be off together.
        engine.auto_where_hints = False
        engine.auto_node_jsondata_hints = False
    try:
        result = engine.run(bound, hints=hints or None)
    except (LarkError, AssertionError, NotImplementedError, TypeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise CypherError(
            f"grand-cypher cannot run query {query_summary(cypher)!r}: {type(exc).__name__}: "
            f"{detail} (it runs a subset of Cypher: double-quoted strings, upper-case "
            "COUNT/SUM/..., one pattern per MATCH; see kgbuild.store.cypher_networkx)"
        ) from exc
    except (KeyError, IndexError, AttributeError) as exc:
        raise CypherError(
            f"grand-cypher failed on query {query_summary(cypher)!r}: {type(exc).__name__}: {exc}"
        ) from exc

    columns = {str(key): values for key, values in result.items()}
    items = _return_items(cypher)
    names = _match_columns(items, list(columns))
    n_rows = max((len(v) for v in columns.values()), default=0)
    rows = [{name: _plain(columns[key][i]) for name, key in names} for i in range(n_rows)]
    if not rows and items and all(function for _, function in items):
        rows = [{column: _empty_aggregate(function) for column, function in items}]
    return rows


def _squash(text: str) -> str:
    return "".join(text.split()).lower()


def _match_columns(items: list[tuple[str, str | None]], keys: list[str]) -> list[tuple[str, str]]:
    """Pair each written RETURN column with grand-cypher's result key, in RETURN order.

    grand-cypher names an un-aliased column after its own rendering of the expression
    (``COUNT(e)``, ``ID(e)``); matching ignores case and whitespace. Keys that match no
    written column keep grand-cypher's name and come last.
    """
    by_squashed = {_squash(k): k for k in keys}
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for column, _ in items:
        key = column if column in keys else by_squashed.get(_squash(column))
        if key is not None and key not in used:
            pairs.append((column, key))
            used.add(key)
    leftover = [k for k in keys if k not in used]
    if leftover and items:
        logger.debug("grand-cypher columns %s match no RETURN item", leftover)
    pairs.extend((k, k) for k in leftover)
    return pairs
