"""What one ingestion run did: :class:`IngestSummary`, returned by every ``ingest``.

It is a pydantic model, so ``summary.model_dump_json()`` is what ``kgbuild ingest
--json`` prints, and ``summary.render()`` is the table a person sees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DocumentCounts", "DocumentFailure", "IngestSummary", "StageSeconds"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentCounts(_Model):
    """How many input documents fell in each state."""

    new: int = Field(0, description="Not in the store before; extracted and written.")
    changed: int = Field(0, description="Content changed since the last run; re-extracted.")
    reextracted: int = Field(
        0, description="Unchanged content, but re-extracted for a new model or schema (reextract)."
    )
    unchanged: int = Field(0, description="Same content (and model/schema); skipped.")
    deleted: int = Field(
        0, description="In the store but no longer in the input (removed only with prune)."
    )
    pruned: int = Field(0, description="Deleted documents removed from the store in this run.")
    failed: int = Field(0, description="Could not be loaded, extracted or written.")
    skipped: int = Field(0, description="Files of an unsupported or binary format, skipped.")

    @property
    def written(self) -> int:
        return self.new + self.changed + self.reextracted


class DocumentFailure(_Model):
    """An input that could not be processed, and why (the run went on without it)."""

    source: str
    stage: str = Field(description="load, chunk, extract, resolve or write.")
    reason: str


class StageSeconds(_Model):
    """Wall-clock seconds spent in each stage (stages interleave while streaming)."""

    load: float = 0.0
    chunk: float = 0.0
    extract: float = 0.0
    resolve: float = 0.0
    write: float = 0.0
    embed: float = 0.0
    prune: float = 0.0
    total: float = 0.0


class IngestSummary(_Model):
    """The outcome of :meth:`KnowledgeGraphBuilder.ingest`.

    ``chunks``, ``mentions``, ``entities``, ``relations``, ``tokens`` and
    ``characters`` count what this run extracted and wrote (entities and
    relations: distinct ids). ``graph`` holds the store's totals after the run.
    """

    store: str
    model_id: str
    schema_fingerprint: str
    documents: DocumentCounts = Field(default_factory=DocumentCounts)
    failures: list[DocumentFailure] = Field(default_factory=list)
    skipped: list[DocumentFailure] = Field(
        default_factory=list, description="Files skipped as unsupported or binary (warnings)."
    )
    deleted_sources: list[str] = Field(
        default_factory=list, description="Sources of documents no longer in the input."
    )
    chunks: int = 0
    mentions: int = 0
    entities: int = 0
    relations: int = 0
    tokens: int = Field(0, description="Extractor tokens in the extracted documents.")
    characters: int = Field(0, description="Characters in the extracted documents.")
    seconds: StageSeconds = Field(default_factory=StageSeconds)
    graph: dict[str, int] = Field(default_factory=dict, description="Store totals after the run.")

    @property
    def ok(self) -> bool:
        """True when no document failed."""
        return self.documents.failed == 0

    def render(self) -> str:
        """A short, human-readable report (plain text, a few lines)."""
        d = self.documents
        lines = [
            f"documents: {d.new} new, {d.changed} changed, {d.reextracted} re-extracted, "
            f"{d.unchanged} unchanged, {d.deleted} deleted ({d.pruned} pruned), {d.failed} failed, "
            f"{d.skipped} skipped",
            f"extracted: {self.chunks} chunks, {self.mentions} mentions, {self.entities} entities, "
            f"{self.relations} relations ({self.tokens} tokens)",
        ]
        if self.graph:
            lines.append("graph: " + ", ".join(f"{v} {k}" for k, v in self.graph.items()))
        s = self.seconds
        lines.append(
            f"seconds: load {s.load:.2f}, chunk {s.chunk:.2f}, extract {s.extract:.2f}, "
            f"resolve {s.resolve:.2f}, write {s.write:.2f}, embed {s.embed:.2f}, "
            f"prune {s.prune:.2f}, "
            f"total {s.total:.2f}"
        )
        for f in self.skipped:
            lines.append(f"skipped: {f.source}: {f.reason}")
        for f in self.failures:
            lines.append(f"failed ({f.stage}): {f.source}: {f.reason}")
        if d.deleted > d.pruned:
            lines.append(
                f"{d.deleted - d.pruned} document(s) no longer in the input stay in the store: "
                "run with --prune (prune=True) to remove them"
            )
        return "\n".join(lines)
