"""One self-contained HTML page from a :class:`~kgbuild.viewer.data.ViewGraph`.

The page inlines everything it runs: vis-network (``vendor/vis-network.min.js``), the
viewer's own ``app.js`` and ``app.css``, and the graph as JSON inside
``<script type="application/json">``. It works offline and from ``file://``.

Safety of document text (which may hold ``<script>``, ``<img onerror=...>`` or quotes):

* the JSON is written with ``<``, ``>``, ``&`` (and U+2028/U+2029) as ``\\uXXXX``
  escapes, so no text can end the ``<script>`` element or open a comment;
* the page's scripts put text on the page with ``textContent`` only;
* a Content-Security-Policy allows exactly the two inlined scripts (by their sha256),
  no other script, no inline event handler, and no network request at all.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from kgbuild._version import __version__
from kgbuild.viewer.data import ViewGraph

__all__ = ["VIS_NETWORK_VERSION", "PageOptions", "render_html", "script_json"]

#: The vendored vis-network build (see kgbuild/viewer/vendor/README.md).
VIS_NETWORK_VERSION = "10.1.5"
_MARKER = re.compile(r"/\*@([A-Z_]+)@\*/")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


class PageOptions(BaseModel):
    """How the page opens a graph (the defaults suit a browser on a laptop)."""

    model_config = ConfigDict(extra="forbid")

    large: int = Field(
        default=2000,
        ge=1,
        description="More connected entities than this: open on the `open` most connected "
        "(and their clusters), with buttons to show more.",
    )
    open: int = Field(default=1000, ge=1, description="Entities a large graph opens on.")
    step: int = Field(default=1000, ge=1, description="Entities one 'show more' adds.")
    labels: int = Field(
        default=30, ge=0, description="About this many names are readable at the first zoom."
    )


@lru_cache(maxsize=8)
def _asset(name: str) -> str:
    return (resources.files("kgbuild.viewer") / name).read_text(encoding="utf-8")


def _vis_network() -> str:
    """The vendored library without its source-map comment (the map is not shipped)."""
    code = _asset("vendor/vis-network.min.js")
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", code)


def script_json(value: object) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def render_html(
    graph: ViewGraph, title: str | None = None, options: PageOptions | None = None
) -> str:
    """The page for ``graph``; ``title`` defaults to the store's name."""
    data = graph.model_dump(mode="json", exclude_none=True)
    data["page"] = (options or PageOptions()).model_dump()
    vis_js, app_js = _vis_network(), _asset("app.js")
    csp = (
        "default-src 'none'; "
        f"script-src {_sha256(vis_js)} {_sha256(app_js)}; "
        "style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'"
    )
    parts = {
        "CSP": csp,
        "VERSION": html.escape(__version__),
        "VIS_VERSION": VIS_NETWORK_VERSION,
        "TITLE": html.escape(title or f"kgbuild view: {graph.store}"),
        "CSS": _asset("app.css"),
        "DATA": script_json(data),
        "VIS": vis_js,
        "APP": app_js,
    }
    # One pass over the template: inserted text is never scanned for markers again.
    return _MARKER.sub(lambda m: parts[m.group(1)], _asset("template.html"))
