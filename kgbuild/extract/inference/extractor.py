"""Running the joint model on text: :class:`JointExtractor` implements the pipeline's
:class:`~kgbuild.extract.base.Extractor` protocol.

Texts are split into words, encoded with the labels, batched by length and run
through the model under ``torch.inference_mode``. Entities are decoded flat
(greedy by score, no overlaps); relations are scored for every ordered pair of
decoded entities, with repeated mentions of one entity in a text pooled.
How the labels of a schema reach the model beside each text is the relation-label
layout's decision (:mod:`kgbuild.extract.inference.layouts`): in one or several label
passes over each text, with or without a block of relation labels read one way.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rapidfuzz import fuzz, process

from kgbuild.extract.base import (
    ExtractedEntity,
    ExtractedRelation,
    Extraction,
    filter_relations,
)
from kgbuild.extract.inference.layouts import Layout, Prompt, PromptBudget, get_layout
from kgbuild.extract.model.collation import collate, collate_one_way
from kgbuild.extract.model.config import ExtractorConfig, resolve_encoder_path
from kgbuild.extract.model.encoding import (
    EncodedText,
    RelationLabelBlock,
    TextEncoder,
    split_words,
)
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.model.tokenizer import load_tokenizer
from kgbuild.extract.options import ExtractorOptions, checkpoint_model_id, default_model_dir
from kgbuild.schema import RelationConstraint

if TYPE_CHECKING:
    from kgbuild.extract.inference.onnx_backend import OnnxHeads

logger = logging.getLogger(__name__)

#: Relation-label blocks kept per extractor (one entry per schema).
SCHEMAS_CACHED = 16

#: Threads an extractor uses unless told otherwise: torch's count when kgbuild was first
#: imported (one per core, or what the user set). Read once, because an ONNX Runtime
#: extractor sets torch itself to one thread (its batches run side by side).
DEFAULT_THREADS = torch.get_num_threads()

#: Padded tokens per forward batch. On CPU, one full window per batch is fastest: bigger
#: batches add no useful parallelism to matrix products that are already large, while
#: every span's (B, words x widths, 768) vectors fall out of cache and into memory. On the
#: pipeline's chunks one window per batch took 4.7 CPU-s against 9.7 at 8,192 tokens
#: (torch, 3.2 against 5.2 on ONNX Runtime), and a third of the peak memory.
BATCH_TOKENS = 512


@dataclass
class WordEntity:
    start: int  # word index
    end: int  # word index, exclusive
    label: str
    score: float


@dataclass
class WordRelation:
    head: int  # index into the entities of the same text
    tail: int
    label: str
    score: float


class JointExtractor:
    """The trained joint entity and relation extractor.

    >>> extractor = JointExtractor.from_pretrained()            # the shipped default
    >>> out = extractor.extract(["Tim Cook is the CEO of Apple."],
    ...                         ["person", "organization"], ["works for"])[0]
    >>> [(e.text, e.label) for e in out.entities]                # doctest: +SKIP
    [('Tim Cook', 'person'), ('Apple', 'organization')]
    """

    def __init__(
        self,
        model: JointExtractionModel,
        tokenizer,
        *,
        model_id: str,
        batch_tokens: int = BATCH_TOKENS,
        heads: OnnxHeads | None = None,
        workers: int = 1,
        torch_threads: int | None = None,
        relation_labels: str = "hybrid",
        graph_heads: Callable[[str], OnnxHeads | None] | None = None,
    ) -> None:
        self.model = model.eval()
        self.config: ExtractorConfig = model.config
        self.encoder = TextEncoder(tokenizer, max_length=self.config.max_length)
        self.model_id = model_id
        self.batch_tokens = batch_tokens
        #: the ONNX Runtime session that runs the encoder and heads (None: torch runs them)
        self.heads = heads
        #: batches run at once, each on one thread (see :meth:`from_pretrained`)
        self.workers = max(1, workers)
        #: torch's thread count while this extractor runs (None: leave it as it is)
        self.torch_threads = torch_threads
        #: how relation labels reach the model (see :mod:`kgbuild.extract.inference.layouts`)
        self.layout: Layout = get_layout(relation_labels)
        #: the prompt budget of a window, and labels cut to fit it
        self.budget = PromptBudget(self.encoder, self.config)
        self._pool: ThreadPoolExecutor | None = None
        # ONNX Runtime: the graphs of the other variants than the joint one, by variant,
        # exported on first use (see _graph)
        self._graph_heads = graph_heads
        self._graphs: dict[str, OnnxHeads | None] = {}
        self._graphs_lock = threading.Lock()
        self._relation_blocks: dict[tuple, RelationLabelBlock] = {}
        # the normalized seen names ("relation", "entity") and each label's verdict
        self._seen_names: dict[str, list[str]] = {}
        self._seen_cache: dict[tuple[str, str], bool] = {}

    @property
    def backend(self) -> str:
        """``"onnx"`` when ONNX Runtime runs the encoder and heads, else ``"torch"``."""
        return "torch" if self.heads is None else "onnx"

    @property
    def relation_labels(self) -> str:
        """The name of the relation-label layout (``"hybrid"`` or ``"prompt"``)."""
        return self.layout.name

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path | None = None,
        *,
        options: ExtractorOptions | None = None,
        **fields: Any,
    ) -> JointExtractor:
        """Load a checkpoint folder (default: the model shipped inside kgbuild).

        Args:
            directory: the checkpoint folder (``config.json`` + ``model.safetensors``);
                overrides ``options.model``.
            options: how to run it (:class:`~kgbuild.extract.options.ExtractorOptions`;
                fields left None are read from the environment, else their defaults).
            **fields: fields of :class:`~kgbuild.extract.options.ExtractorOptions`
                (``backend``, ``int8``, ``relation_labels``, ``threads``) that override
                ``options``.

        What the options do here: ``backend`` "onnx" runs the encoder and heads on ONNX
        Runtime (the graph exported once and cached, see
        :mod:`kgbuild.extract.inference.onnx_backend`), "torch" on eager PyTorch, "auto"
        ONNX Runtime when it is installed and the export works. ``int8``: dynamic int8
        matrix products (on ONNX Runtime per-channel, about 1.3x as fast, within 0.3 F1 on
        CoNLL04, 1.3-1.6 F1 lower on re3d's unseen labels; torch's own int8 costs 3.7
        relation F1 on CoNLL04). ``threads``: on ONNX Runtime that many batches run at
        once, each on one thread (data parallel: on 2 cores 4,475 tokens/s against 3,401
        for one batch at a time on both threads, the same outputs), and torch, which
        scores relations inside each, is set to one thread.
        """
        options = ExtractorOptions.combine(options, directory, **fields).resolved()
        directory = options.model or default_model_dir()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        threads = options.threads or DEFAULT_THREADS
        # on ONNX Runtime the transformer runs in the graph: loaded only where a graph must
        # be exported, or torch must run it after all
        model = JointExtractionModel.from_pretrained(
            directory, defer_encoder=options.backend != "torch"
        )
        heads = _onnx_heads(model, directory, options.backend, options.int8)
        if heads is None:
            model.materialize_encoder()
        workers, torch_threads = 1, threads
        if heads is not None and threads > 1:
            workers, torch_threads = threads, 1
        if options.int8 and heads is None:
            # the encoder holds nearly all the compute; the small heads stay fp32
            model.encoder = torch.ao.quantization.quantize_dynamic(
                model.encoder, {torch.nn.Linear}, dtype=torch.qint8
            )
        tokenizer = load_tokenizer(resolve_encoder_path(model.config.encoder))
        graph_heads = None
        if heads is not None:

            def graph_heads(variant: str) -> OnnxHeads | None:
                return _onnx_heads(model, directory, options.backend, options.int8, variant)

        return cls(
            model,
            tokenizer,
            model_id=checkpoint_model_id(directory, int8=bool(options.int8)),
            heads=heads,
            workers=workers,
            torch_threads=torch_threads,
            relation_labels=options.relation_labels,
            graph_heads=graph_heads,
        )

    # ------------------------------------------------------------------ Extractor protocol

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.encoder.token_spans(text)

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        passes = self.label_passes(entity_types, relation_types)
        return min(self.encoder.max_text_tokens(e, r) for e, r in passes)

    def extract(
        self,
        texts: list[str],
        entity_types: list[str],
        relation_types: list[str],
        *,
        entity_threshold: float | None = None,
        relation_threshold: float | None = None,
        symmetric_relations: list[str] | None = None,
        relation_constraints: Mapping[str, RelationConstraint] | None = None,
    ) -> list[Extraction]:
        """Entities and relations of each text, with character offsets into it.

        ``relation_constraints`` (relation -> allowed head/tail entity types) drops
        relations between entities of other types (see :class:`~kgbuild.schema.Schema`).
        """
        spans = [split_words(t) for t in texts]
        results = self.predict(
            texts,
            spans,
            entity_types,
            relation_types,
            entity_threshold=entity_threshold,
            relation_threshold=relation_threshold,
            symmetric_relations=symmetric_relations,
            relation_constraints=relation_constraints,
        )
        out = []
        for text, word_spans, (ents, rels) in zip(texts, spans, results, strict=True):
            entities = []
            for e in ents:
                start, end = word_spans[e.start][0], word_spans[e.end - 1][1]
                entities.append(
                    ExtractedEntity(
                        start=start,
                        end=end,
                        text=text[start:end],
                        label=e.label,
                        score=round(e.score, 4),
                    )
                )
            relations = [
                ExtractedRelation(head=r.head, tail=r.tail, label=r.label, score=round(r.score, 4))
                for r in rels
            ]
            out.append(Extraction(entities=entities, relations=relations))
        return out

    # ------------------------------------------------------------------ core

    def label_passes(self, entity_labels: list[str], relation_labels: list[str]) -> list[Prompt]:
        """The label prompts each text is read with (one encoder pass per prompt), as the
        layout makes them; the relation labels in none of them are read one way."""
        return self.layout.passes(self.budget, entity_labels, relation_labels)

    def relation_label_block(
        self,
        entity_labels: list[str],
        relation_labels: list[str],
        prompt_relations: list[str] | tuple[str, ...] = (),
    ) -> RelationLabelBlock:
        """The relation labels appended after texts read with ``entity_labels`` and
        ``prompt_relations`` in their prompt, in the groups of the joint layout (half the
        prompt budget each, the labels of one group seeing each other); cached per
        schema."""
        key = (tuple(entity_labels), tuple(relation_labels), tuple(prompt_relations))
        block = self._relation_blocks.get(key)
        if block is None:
            groups = self.budget.relation_groups(relation_labels)
            block = self.encoder.relation_label_block(entity_labels, groups, prompt_relations)
            if len(self._relation_blocks) >= SCHEMAS_CACHED:
                self._relation_blocks.pop(next(iter(self._relation_blocks)))
            self._relation_blocks[key] = block
        return block

    def _batches(self, encoded: list[EncodedText], extra_tokens: int = 0) -> list[list[int]]:
        """Indices grouped by length so padding stays small; ``extra_tokens``: what every
        text of a batch is read with besides (a block of relation labels read one way)."""
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        batches, current, longest = [], [], 0
        for i in order:
            n = len(encoded[i].input_ids)
            if (
                current
                and (max(longest, n) + extra_tokens) * (len(current) + 1) > self.batch_tokens
            ):
                batches.append(current)
                current, longest = [], 0
            current.append(i)
            longest = max(longest, n)
        if current:
            batches.append(current)
        return batches

    @torch.inference_mode()
    def predict(
        self,
        texts: list[str],
        word_spans: list[list[tuple[int, int]]],
        entity_labels: list[str],
        relation_labels: list[str],
        *,
        entity_threshold: float | None = None,
        relation_threshold: float | None = None,
        symmetric_relations: list[str] | None = None,
        relation_constraints: Mapping[str, RelationConstraint] | None = None,
    ) -> list[tuple[list[WordEntity], list[WordRelation]]]:
        """Entities (word spans) and relations of each text, given its word spans."""
        ent_thr = self.config.entity_threshold if entity_threshold is None else entity_threshold
        rel_thr: float | np.ndarray = (
            self.config.relation_threshold if relation_threshold is None else relation_threshold
        )
        symmetric = set(symmetric_relations or [])
        entity_labels = list(dict.fromkeys(entity_labels))
        relation_labels = list(dict.fromkeys(relation_labels))
        if relation_constraints and texts and entity_labels:
            results = self.predict(
                texts, word_spans, entity_labels, relation_labels,
                entity_threshold=entity_threshold, relation_threshold=relation_threshold,
                symmetric_relations=sorted(symmetric),
            )  # fmt: skip
            return [
                (ents, filter_relations(ents, rels, relation_constraints, symmetric))
                for ents, rels in results
            ]
        if entity_threshold is None:
            ent_thr = self._with_unseen_entity_thresholds(entity_labels, ent_thr)
        passes = self.label_passes(entity_labels, relation_labels)
        # the relation labels read one way, after the text (none: all are in prompts)
        one_way = self.layout.one_way_labels(relation_labels, passes)
        if one_way and relation_threshold is None:
            rel_thr = self.layout.relation_thresholds(self.config, relation_labels, one_way)
        if relation_threshold is None:
            rel_thr = self._with_unseen_thresholds(relation_labels, rel_thr)
        n = len(texts)
        entities: list[list[WordEntity]] = [[] for _ in range(n)]
        relations: list[list[WordRelation]] = [[] for _ in range(n)]
        if n == 0 or not entity_labels:
            return list(zip(entities, relations, strict=True))

        if self.torch_threads and torch.get_num_threads() != self.torch_threads:
            # set per call: another extractor in this process may have changed it
            torch.set_num_threads(self.torch_threads)
        # one tokenization per text, whatever the number of label passes
        tokens = self.encoder.tokenize(texts)
        block = None
        if one_way:
            block = self.relation_label_block(passes[0][0], one_way, passes[0][1])
        if len(passes) == 1:
            ents, rels = passes[0]
            self._run_pass(
                texts, word_spans, ents, relation_labels if block is not None else rels,
                entities, relations, ent_thr, rel_thr, symmetric, tokens=tokens,
                relation_block=block,
            )  # fmt: skip
            return list(zip(entities, relations, strict=True))

        self._predict_passes(
            texts, word_spans, passes, tokens, entities, relations, ent_thr, rel_thr, symmetric,
            apart=None if block is None else (relation_labels, block),
        )  # fmt: skip
        return list(zip(entities, relations, strict=True))

    def _with_unseen_thresholds(
        self, relation_labels: list[str], thresholds: float | np.ndarray
    ) -> float | dict[str, float]:
        """``thresholds`` (one, or one per label) with the labels the model never
        trained on set to ``unseen_relation_threshold``: a label -> threshold map, or
        ``thresholds`` as it is where every label was seen (or the checkpoint has no
        list of seen names)."""
        unseen = self.config.unseen_relation_threshold
        if (
            unseen is None
            or self.config.seen_relation_labels is None
            or all(map(self._seen_relation, relation_labels))
        ):
            return thresholds
        per_label = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(relation_labels),))
        return {
            label: float(thr) if self._seen_relation(label) else unseen
            for label, thr in zip(relation_labels, per_label, strict=True)
        }

    def _with_unseen_entity_thresholds(
        self, entity_labels: list[str], threshold: float
    ) -> float | dict[str, float]:
        """``threshold`` with the entity types the model never trained on set to
        ``unseen_entity_threshold``: a label -> threshold map, or ``threshold`` as it is
        where every type was seen (or the checkpoint has no list of seen types)."""
        unseen = self.config.unseen_entity_threshold
        if (
            unseen is None
            or self.config.seen_entity_labels is None
            or all(self._seen_label(label, "entity") for label in entity_labels)
        ):
            return threshold
        return {
            label: threshold if self._seen_label(label, "entity") else unseen
            for label in entity_labels
        }

    def _seen_relation(self, label: str) -> bool:
        """Whether ``label`` is one of the checkpoint's ``seen_relation_labels`` (see
        :meth:`_seen_label`)."""
        return self._seen_label(label, "relation")

    def _seen_label(self, label: str, kind: str) -> bool:
        """Whether ``label`` (or, for a described label, its name before the ':') is
        one of the checkpoint's seen labels of ``kind`` ("relation": ``seen_relation_labels``,
        "entity": ``seen_entity_labels``), up to case, punctuation and small spelling
        differences ("works for" and "work for", "organisation" and "organization")."""
        known = self._seen_cache.get((kind, label))
        if known is None:
            names = self._seen_names.get(kind)
            if names is None:
                listed = (
                    self.config.seen_relation_labels
                    if kind == "relation"
                    else self.config.seen_entity_labels
                )
                names = self._seen_names[kind] = sorted({_normal_label(x) for x in listed or []})
            name = _normal_label(label.split(":", 1)[0])
            known = name in names or bool(
                process.extractOne(name, names, scorer=fuzz.ratio, score_cutoff=90)
            )
            self._seen_cache[(kind, label)] = known
        return known

    def _predict_passes(
        self,
        texts: list[str],
        word_spans: list[list[tuple[int, int]]],
        passes: list[Prompt],
        tokens: list,
        entities: list[list[WordEntity]],
        relations: list[list[WordRelation]],
        ent_thr: float | dict[str, float],
        rel_thr: float | np.ndarray,
        symmetric: set[str],
        apart: tuple[list[str], RelationLabelBlock] | None = None,
    ) -> None:
        """Several label passes over each batch of texts: every pass is encoded once; the
        entity scores of all passes are merged and decoded, then each pass scores the
        relations of its labels between those entities from its own hidden states.

        ``apart``: every relation label and the block appended to the first pass (its
        prompt holds the first group; the later passes hold entity labels only): relations
        are then scored from the first pass.
        """
        encoded = [
            [
                self.encoder.encode(t, s, ents, rels, tokens=k)
                for t, s, k in zip(texts, word_spans, tokens, strict=True)
            ]
            for ents, rels in passes
        ]
        # passes differ only by their prompt: batch by the longest one
        longest = max(range(len(passes)), key=lambda p: len(encoded[p][0].input_ids))
        width = self.config.max_width
        entity_labels = [label for ents, _ in passes for label in ents]
        block = None if apart is None else apart[1]

        def run(batch_ids: list[int]) -> None:
            outputs = []
            for p, (ents, rels) in enumerate(passes):
                items = [encoded[p][i] for i in batch_ids]
                # the block goes with the first pass; later ones read the text without it
                with_block = block is not None and p == 0
                batch = collate_one_way(items, block) if with_block else collate(items)
                hidden, start_part, end_part, logits, rel_emb = self._forward(
                    batch, bool(ents), bool(rels) or with_block, one_way=with_block
                )
                probs = None
                if ents:
                    mask = self.model.span_mask(batch)
                    probs = torch.sigmoid(logits).masked_fill(~mask.unsqueeze(-1), 0.0)
                outputs.append((items, hidden, start_part, end_part, probs, rel_emb))
            for j, i in enumerate(batch_ids):
                words = len(word_spans[i])
                merged = np.concatenate(
                    [
                        probs[j, :, : len(ents)]
                        .numpy()
                        .reshape(-1, width, len(ents))[:words]
                        .reshape(-1, len(ents))
                        for (_, _, _, _, probs, _), (ents, _) in zip(outputs, passes, strict=True)
                        if ents
                    ],
                    axis=1,
                )
                found = self._decode_entities(merged, entity_labels, ent_thr)
                entities[i] = found
                if len(found) < 2:
                    continue
                if apart is not None:
                    items, hidden, start_part, end_part, _, rel_emb = outputs[0]
                    relations[i].extend(
                        self._score_relations(
                            hidden[j], start_part[j], end_part[j], items[j], found,
                            rel_emb[j], apart[0], rel_thr, symmetric,
                        )
                    )  # fmt: skip
                    continue
                for (items, hidden, start_part, end_part, _, rel_emb), (_, rels) in zip(
                    outputs, passes, strict=True
                ):
                    if rels:
                        relations[i].extend(
                            self._score_relations(
                                hidden[j], start_part[j], end_part[j], items[j], found,
                                rel_emb[j, : len(rels)], rels, rel_thr, symmetric,
                            )
                        )  # fmt: skip

        extra = 0 if block is None else len(block.input_ids)
        self._each_batch(run, self._batches(encoded[longest], extra))

    def _run_pass(
        self,
        texts,
        word_spans,
        ent_labels,
        rel_labels,
        entities_out,
        relations_out,
        ent_thr,
        rel_thr,
        symmetric,
        tokens=None,
        relation_block: RelationLabelBlock | None = None,
    ) -> None:
        """One label pass that holds every label: entities, then relations between them.

        ``rel_labels`` in the prompt, or, with ``relation_block``, the first ones in the
        prompt and the others in the block, read one way. ``rel_thr``: one threshold,
        or one per relation label.
        """
        if tokens is None:
            tokens = self.encoder.tokenize(texts)
        prompt_rels = rel_labels
        if relation_block is not None:
            prompt_rels = rel_labels[: len(rel_labels) - len(relation_block.marker_positions)]
        encoded = [
            self.encoder.encode(t, s, ent_labels, prompt_rels, tokens=k)
            for t, s, k in zip(texts, word_spans, tokens, strict=True)
        ]
        width = self.config.max_width

        def run(batch_ids: list[int]) -> None:
            items = [encoded[i] for i in batch_ids]
            if relation_block is not None:
                batch = collate_one_way(items, relation_block)
            else:
                batch = collate(items)
            hidden, start_part, end_part, logits, rel_emb = self._forward(
                batch,
                True,
                bool(prompt_rels) or relation_block is not None,
                one_way=relation_block is not None,
            )
            mask = self.model.span_mask(batch)
            probs = torch.sigmoid(logits).masked_fill(~mask.unsqueeze(-1), 0.0)
            for j, i in enumerate(batch_ids):
                enc = items[j]
                p = probs[j, :, : len(ent_labels)].numpy()
                p = p.reshape(-1, width, len(ent_labels))[: len(enc.word_spans)].reshape(
                    -1, len(ent_labels)
                )
                found = self._decode_entities(p, ent_labels, ent_thr)
                entities_out[i] = found
                if not rel_labels or len(found) < 2:
                    continue
                relations_out[i].extend(
                    self._score_relations(
                        hidden[j],
                        start_part[j],
                        end_part[j],
                        enc,
                        found,
                        rel_emb[j, : len(rel_labels)],
                        rel_labels,
                        rel_thr,
                        symmetric,
                    )
                )

        extra = 0 if relation_block is None else len(relation_block.input_ids)
        self._each_batch(run, self._batches(encoded, extra))

    def _each_batch(self, run, batches: list[list[int]]) -> None:
        """``run(batch)`` for every batch: in order here, or ``workers`` at a time.

        Each batch writes only its own texts' results, so the order batches finish in
        changes nothing. ``torch.inference_mode`` is per thread, hence set again.
        """
        if self.workers == 1 or len(batches) == 1:
            for batch_ids in batches:
                run(batch_ids)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="kgbuild-extract")

        def in_inference_mode(batch_ids: list[int]) -> None:
            with torch.inference_mode():
                run(batch_ids)

        for _ in self._pool.map(in_inference_mode, batches):
            pass  # re-raises the first failure

    def _forward(
        self,
        batch: dict[str, torch.Tensor],
        need_entities: bool,
        need_relations: bool,
        one_way: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Hidden states, the span layer's per-token start and end parts, span-label
        logits and relation-label vectors of one batch (the logits and label vectors only
        when needed, on torch). ``one_way``: the batch holds a block of relation labels
        read one way (:func:`~kgbuild.extract.model.collation.collate_one_way`), whose
        vectors follow those of the prompt's relation labels."""
        heads = self.heads
        if heads is not None and one_way:
            heads = self._graph(self.layout.graph)
        if heads is not None:
            hidden, start_part, end_part, logits, rel_emb = heads(batch)
        else:
            model = self.model
            model.materialize_encoder()  # where a graph could not be exported
            label_hidden = None
            if one_way:
                hidden, label_hidden = model.encode_one_way(batch)
            else:
                hidden = model.encode(batch)
            start_part, end_part, width_part = model.span_parts(hidden)
            logits = rel_emb = None
            if need_entities:
                span_hidden = model.span_hidden(hidden, batch, (start_part, end_part, width_part))
                ent_emb = model.label_embeddings(
                    hidden, batch["entity_markers"], model.entity_label_proj
                )
                logits = model.entity_logits_from_hidden(span_hidden, ent_emb)
            if need_relations:
                rel_emb = model.label_embeddings(
                    hidden if label_hidden is None else label_hidden,
                    batch["relation_markers"],
                    model.relation_label_proj,
                )
        prompt = batch.get("prompt_relation_markers")
        if one_way and rel_emb is not None and bool((prompt >= 0).any()):
            # the texts of a pass share their prompt: no padding between the two parts
            in_prompt = self.model.label_embeddings(hidden, prompt, self.model.relation_label_proj)
            rel_emb = torch.cat([in_prompt, rel_emb], 1)
        return hidden, start_part, end_part, logits, rel_emb

    def _graph(self, variant: str) -> OnnxHeads | None:
        """The ONNX Runtime session of graph ``variant`` (``"joint"``: the one loaded with
        the model; others are made on first use; None: the export failed, torch runs
        those passes)."""
        if variant == "joint":
            return self.heads
        with self._graphs_lock:
            if variant not in self._graphs:
                factory = self._graph_heads
                self._graphs[variant] = None if factory is None else factory(variant)
        return self._graphs[variant]

    def _width_part(self) -> torch.Tensor:
        """``span_parts``' width part (weights only), cached until the weights change."""
        layer, widths = self.model.span_proj[0], self.model.width_embedding.weight
        key = tuple((t.data_ptr(), t._version) for t in (layer.weight, layer.bias, widths))
        cached = getattr(self, "_width_cache", None)
        if cached is None or cached[0] != key:
            hs = self.model.hidden_size
            w_width = layer.weight[:, 2 * hs :]
            cached = (key, widths @ w_width.T + layer.bias)
            self._width_cache = cached
        return cached[1]

    def _decode_entities(
        self, probs: np.ndarray, labels: list[str], threshold: float | dict[str, float]
    ) -> list[WordEntity]:
        """Flat decoding: best label per span, greedy by score, no overlapping spans.

        ``threshold``: one, or a map from label to threshold; with a map, a span's label
        is the best of those that pass their own threshold."""
        width = self.config.max_width
        if isinstance(threshold, dict):
            per_label = np.array([threshold[label] for label in labels])
            probs = np.where(probs > per_label, probs, 0.0)
            threshold = 0.0
        best = probs.argmax(-1)
        score = probs.max(-1)
        candidates = np.nonzero(score > threshold)[0]
        candidates = candidates[np.argsort(-score[candidates], kind="stable")]
        taken: list[tuple[int, int]] = []
        out = []
        for s in candidates:
            start, end = int(s // width), int(s // width + s % width + 1)
            if any(start < e and b < end for b, e in taken):
                continue
            taken.append((start, end))
            out.append(WordEntity(start, end, labels[int(best[s])], float(score[s])))
        out.sort(key=lambda e: (e.start, e.end))
        return out

    def _score_relations(
        self,
        hidden: torch.Tensor,
        start_part: torch.Tensor,
        end_part: torch.Tensor,
        enc: EncodedText,
        found: list[WordEntity],
        rel_emb: torch.Tensor,
        rel_labels: list[str],
        threshold: float | np.ndarray | dict[str, float],
        symmetric: set[str],
    ) -> list[WordRelation]:
        """Relations between the entities ``found`` in one text, scored against
        ``rel_emb`` (L, D), the vectors of ``rel_labels``; ``threshold``: one, (L,) one
        per label, or a map from label to threshold."""
        tokens = torch.tensor(
            [[enc.word_first_token[e.start], enc.word_last_token[e.end - 1]] for e in found]
        )
        words = torch.tensor([e.end - e.start for e in found])
        # mentions with the same text and label in one text are one entity
        keys: dict[tuple[str, str], int] = {}
        cluster = [keys.setdefault((_token_key(enc, e), e.label), len(keys)) for e in found]
        c = len(keys)
        if c < 2:
            return []
        heads, tails = torch.meshgrid(torch.arange(c), torch.arange(c), indexing="ij")
        off = heads != tails
        pairs = torch.stack([heads[off], tails[off]], dim=-1)
        cluster_t = torch.tensor(cluster)
        logits = self.model.pair_logits(
            hidden,
            self.model.project_spans(
                self.model.span_hidden_at(
                    start_part, end_part, self._width_part(), tokens[:, 0], tokens[:, 1], words
                )
            ),
            tokens,
            cluster_t,
            c,
            pairs,
            self.model.with_no_relation(rel_emb),
        )
        # a model with a no-relation score judges each label against the pair's own
        probs = torch.sigmoid(self.model.relative_logits(logits)).numpy()
        members: list[list[int]] = [[] for _ in range(c)]
        for m, k in enumerate(cluster):
            members[k].append(m)
        # pairs are every (h, t), h != t, in row-major order: (t, h) is at this index
        pair_list = pairs.tolist()
        out = []
        if not isinstance(threshold, dict):
            passing = probs > threshold
        else:
            passing = probs > np.array([threshold[label] for label in rel_labels])
            # a name the model never trained on is taken only where it is the pair's
            # best label (its lower threshold would otherwise let every near-synonym in)
            # and in the direction it scores higher (the pair the other way round)
            unseen = np.array([not self._seen_relation(label) for label in rel_labels])
            best = probs.argmax(axis=1)
            h, t = pairs[:, 0].numpy(), pairs[:, 1].numpy()
            reverse = t * (c - 1) + h - (h > t)
            passing &= ~unseen | (
                (np.arange(len(rel_labels)) == best[:, None]) & (probs >= probs[reverse])
            )
        for p, r in zip(*np.nonzero(passing), strict=True):
            h, t = pair_list[p]
            label = rel_labels[int(r)]
            score = float(probs[p, r])
            if label in symmetric:
                if h > t:
                    continue
                score = max(score, float(probs[t * (c - 1) + h - (h > t), r]))
            mh, mt = _closest(members[h], members[t], found)
            out.append(WordRelation(mh, mt, label, score))
        return out


def _normal_label(label: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", label.lower()).split())


def _onnx_heads(
    model: JointExtractionModel,
    directory: Path,
    backend: str,
    int8: bool,
    variant: str = "joint",
) -> OnnxHeads | None:
    """The ONNX Runtime session for ``backend``, or None when torch runs the model.

    ``variant``: the graph's variant, ``"joint"`` or a layout's (see
    :func:`~kgbuild.extract.inference.onnx_backend.exported_graph`)."""
    if backend == "torch":
        return None
    from kgbuild.extract.inference import onnx_backend

    if not onnx_backend.onnx_available():
        if backend == "onnx":
            raise RuntimeError(
                "backend='onnx' needs onnxruntime, onnx and onnxscript: "
                "pip install onnxruntime onnx onnxscript"
            )
        logger.info("ONNX Runtime is not installed: the extractor runs on torch")
        return None
    try:
        path = onnx_backend.exported_graph(model, directory, quantize=int8, variant=variant)
        # one thread per session run: the extractor runs batches side by side instead
        return onnx_backend.OnnxHeads(path, num_threads=1)
    except Exception as exc:
        if backend == "onnx":
            raise RuntimeError(f"could not run {directory} on ONNX Runtime: {exc}") from exc
        logger.warning("ONNX export of %s failed (%s): the extractor runs on torch", directory, exc)
        return None


def _token_key(enc: EncodedText, e: WordEntity) -> str:
    # The token ids of a span identify its text (uncased, as the encoder reads it).
    a, b = int(enc.word_first_token[e.start]), int(enc.word_last_token[e.end - 1])
    return ",".join(str(x) for x in enc.input_ids[a : b + 1])


def _closest(heads: list[int], tails: list[int], found: list[WordEntity]) -> tuple[int, int]:
    """The closest head and tail mentions: where the relation is stated."""
    return min(
        ((h, t) for h in heads for t in tails),
        key=lambda ht: abs(found[ht[0]].start - found[ht[1]].start),
    )
