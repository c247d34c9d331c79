"""Entity resolution: mentions to entities, within documents, across documents and runs.

>>> from kgbuild.resolve import EntityResolver, ResolverConfig
>>> resolver = EntityResolver(ResolverConfig())
>>> result = resolver.resolve_document(mentions, store=store)  # doctest: +SKIP

See :mod:`kgbuild.resolve.resolver` for the algorithm, :mod:`kgbuild.resolve.config`
for every rule and threshold, and :func:`cluster_mentions` for bulk clustering.
"""

from kgbuild.resolve.bulk import cluster_mentions
from kgbuild.resolve.config import ResolverConfig
from kgbuild.resolve.normalize import Name, Normalizer
from kgbuild.resolve.resolver import EntityResolver, MergeDecision, ResolvedDocument

__all__ = [
    "EntityResolver",
    "MergeDecision",
    "Name",
    "Normalizer",
    "ResolvedDocument",
    "ResolverConfig",
    "cluster_mentions",
]
