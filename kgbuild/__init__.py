"""kgbuild: documents in, a provenance-rich knowledge graph out."""

__version__ = "0.1.0"
