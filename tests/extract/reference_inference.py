"""The extractor's inference path as it was before the speed work of issue 11 (commit 951f09a).

A verbatim copy of ``JointExtractor._run_pass`` / ``_decode_entities`` /
``_score_relations``, ``TextEncoder.encode`` and ``JointExtractionModel.pair_logits``
from that commit (only renamed, and wired to each other), kept so that tests can
check the faster path against it on real chunks: :class:`ReferenceExtractor` is a
``JointExtractor`` that runs the old code.
"""

from __future__ import annotations

import bisect

import numpy as np
import torch

from kgbuild.extract.inference.extractor import JointExtractor, WordEntity, WordRelation
from kgbuild.extract.model.collation import collate
from kgbuild.extract.model.encoding import (
    MARKER_ENTITY,
    MARKER_NONE,
    MARKER_RELATION,
    SHAPE_PAD,
    EncodedText,
    casing_is_informative,
    token_shape,
)


def reference_encode(
    self,
    text: str,
    word_spans: list[tuple[int, int]],
    entity_labels: list[str],
    relation_labels: list[str],
) -> EncodedText:
    ids = [self.cls_id]
    markers = [MARKER_NONE]
    ent_pos, rel_pos = [], []
    for labels, marker_id, marker_type, positions in (
        (entity_labels, self.entity_marker_id, MARKER_ENTITY, ent_pos),
        (relation_labels, self.relation_marker_id, MARKER_RELATION, rel_pos),
    ):
        for label in labels:
            positions.append(len(ids))
            ids.append(marker_id)
            markers.append(marker_type)
            lab = self.label_ids(label)
            ids.extend(lab)
            markers.extend([MARKER_NONE] * len(lab))
    ids.append(self.sep_id)
    markers.append(MARKER_NONE)
    shapes = [SHAPE_PAD] * len(ids)
    offset = len(ids)
    budget = self.max_length - offset - 1

    enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    tok_ids = enc["input_ids"][:budget]
    tok_offsets = enc["offset_mapping"][: len(tok_ids)]

    n_words = len(word_spans)
    ends = [e for _, e in word_spans]
    first = np.full(n_words, -1, dtype=np.int64)
    last = np.full(n_words, -1, dtype=np.int64)
    # a token belongs to every word it shares a character with (a zero-width token: the
    # character where it stands); tokens come in order, so a word's first and last
    # tokens are the first and last seen
    for k, (tok_start, tok_end) in enumerate(tok_offsets):
        tok_end = max(tok_end, tok_start + 1)
        for w in range(bisect.bisect_right(ends, tok_start), n_words):
            if word_spans[w][0] >= tok_end:
                break
            if first[w] < 0:
                first[w] = offset + k
            last[w] = offset + k
    ids.extend(tok_ids)
    markers.extend([MARKER_NONE] * len(tok_ids))
    if casing_is_informative(text):
        shapes.extend(token_shape(text[s:e]) for s, e in tok_offsets)
    else:
        shapes.extend([SHAPE_PAD] * len(tok_ids))
    ids.append(self.sep_id)
    markers.append(MARKER_NONE)
    shapes.append(SHAPE_PAD)

    # words whose tokens were cut off by the window are not spans
    num_words = n_words
    if len(enc["input_ids"]) > len(tok_ids):
        cut = tok_offsets[-1][1] if tok_offsets else 0
        num_words = int(np.searchsorted([e for _, e in word_spans], cut, side="right"))
        first[num_words:] = -1
        last[num_words:] = -1
    return EncodedText(
        input_ids=ids,
        marker_types=markers,
        shape_ids=shapes,
        entity_marker_positions=ent_pos,
        relation_marker_positions=rel_pos,
        word_first_token=first,
        word_last_token=last,
        word_spans=list(word_spans),
        num_words=num_words,
    )


def reference_pair_logits(
    self,
    hidden: torch.Tensor,
    mention_spans: torch.Tensor,
    mention_tokens: torch.Tensor,
    mention_cluster: torch.Tensor,
    num_clusters: int,
    pairs: torch.Tensor,
    relation_labels: torch.Tensor,
) -> torch.Tensor:
    """(P, Lr) scores of cluster pairs for one text.

    ``hidden`` (T, H) one sequence; ``mention_spans`` (M, D) span vectors;
    ``mention_tokens`` (M, 2) first/last token of each mention; ``mention_cluster``
    (M,) the entity each mention belongs to; ``pairs`` (P, 2) head/tail cluster ids.
    """
    d = mention_spans.size(-1)
    m = mention_spans.size(0)
    # localized context (SpERT): the mean of the tokens strictly between two mentions,
    # through context_proj. That layer is linear, so the tokens are projected once and
    # each pair's sum read off a prefix sum, instead of a (M*M, T) x (T, H) product.
    start, end = mention_tokens[:, 0], mention_tokens[:, 1]
    projected = hidden @ self.context_proj.weight.T  # (T, D)
    prefix = torch.cat([projected.new_zeros(1, d), projected.cumsum(0)])  # (T+1, D)
    lo = torch.minimum(end.unsqueeze(1), end.unsqueeze(0)) + 1  # first token between
    hi = torch.maximum(start.unsqueeze(1), start.unsqueeze(0)).maximum(lo)  # one past last
    counts = (hi - lo).clamp(min=1).unsqueeze(-1).to(hidden.dtype)
    ctx = ((prefix[hi] - prefix[lo]) / counts + self.context_proj.bias).reshape(m * m, d)
    key = (mention_cluster.unsqueeze(1) * num_clusters + mention_cluster.unsqueeze(0)).reshape(-1)
    if m == num_clusters:
        # one mention per entity (the usual case at inference): nothing to pool
        clusters = mention_spans.new_zeros(num_clusters, d).index_copy(
            0, mention_cluster, mention_spans
        )
        ctx_c = ctx.new_zeros(m * m, d).index_copy(0, key, ctx)
    else:
        # entity vectors and contexts: max over the entity's mentions (GLiDRE)
        clusters = mention_spans.new_full((num_clusters, d), -1e4).scatter_reduce(
            0, mention_cluster.unsqueeze(-1).expand(-1, d), mention_spans, "amax"
        )
        ctx_c = ctx.new_full((num_clusters * num_clusters, d), -1e4).scatter_reduce(
            0, key.unsqueeze(-1).expand(-1, d), ctx, "amax"
        )
    head, tail = pairs[:, 0], pairs[:, 1]
    e_h, e_t = clusters[head], clusters[tail]
    c = ctx_c[head * num_clusters + tail]
    if self.training:
        rep = self.pair_proj(self.dropout(torch.cat([e_h, e_t, c, e_h * e_t], dim=-1)))
        return rep @ relation_labels.T
    # Inference, same result with fewer multiply-adds: the first layer of pair_proj is
    # linear in [head; tail; context; head*tail], so its head and tail parts are applied
    # once per entity rather than once per pair, and its last layer is folded into the
    # relation-label vectors.
    first, last = self.pair_proj[0], self.pair_proj[3]
    w_h, w_t, w_c, w_p = first.weight.split(d, dim=1)
    per_head = clusters @ w_h.T
    per_tail = clusters @ w_t.T
    x = per_head[head] + per_tail[tail] + c @ w_c.T + (e_h * e_t) @ w_p.T + first.bias
    x = self.pair_proj[1](x)
    return x @ (relation_labels @ last.weight).T + relation_labels @ last.bias


class ReferenceExtractor(JointExtractor):
    """A JointExtractor whose inference runs the code of commit 951f09a.

    Several label passes changed on purpose: an entity pass now also holds its pass's
    relation labels, so each pass is encoded once (not once for entities and once for
    relations). The old per-pass code runs such passes as the old orchestration did,
    entity scores of every pass first, then each pass's relations between the merged
    entities; the new code runs all passes of a batch at once and keeps their hidden
    states. This checks the two against each other.
    """

    def _run_pass(
        self, texts, word_spans, ent_labels, rel_labels, entities_out, relations_out,
        ent_thr, rel_thr, symmetric, tokens=None, relation_block=None,
    ) -> None:  # fmt: skip
        if relation_block is not None:
            # the hybrid layout: the joint layout's pass, whose prompt holds the first
            # relation labels; the others' vectors read one way after it (naively)
            first = rel_labels[: len(rel_labels) - len(relation_block.marker_positions)]
            self._reference_pass(
                texts, word_spans, ent_labels, rel_labels, None, entities_out, relations_out,
                ent_thr, rel_thr, symmetric, one_way=True, prompt_relations=first,
            )  # fmt: skip
            return
        self._reference_pass(
            texts, word_spans, ent_labels, rel_labels, None, entities_out, relations_out,
            ent_thr, rel_thr, symmetric,
        )  # fmt: skip

    def _predict_passes(
        self, texts, word_spans, passes, tokens, entities, relations, ent_thr, rel_thr,
        symmetric, apart=None,
    ) -> None:  # fmt: skip
        probs: list[list[np.ndarray]] = [[] for _ in texts]
        for ents, rels in passes:
            if ents:
                self._reference_pass(
                    texts, word_spans, ents, rels, probs, None, None, ent_thr, rel_thr,
                    symmetric,
                )  # fmt: skip
        all_labels = [label for ents, _ in passes for label in ents]
        for i in range(len(texts)):
            merged = np.concatenate(probs[i], axis=1)
            entities[i] = self._decode_entities(merged, all_labels, ent_thr)
        if apart is not None:
            # the hybrid layout: relations from the first pass's text, with the naive
            # one-way vectors after those of the prompt's relation labels
            self._reference_pass(
                texts, word_spans, passes[0][0], apart[0], None, None, relations,
                ent_thr, rel_thr, symmetric, fixed_entities=entities, one_way=True,
                prompt_relations=passes[0][1],
            )  # fmt: skip
            return
        for ents, rels in passes:
            if rels and any(entities):
                self._reference_pass(
                    texts, word_spans, ents, rels, None, None, relations, ent_thr, rel_thr,
                    symmetric, fixed_entities=entities,
                )  # fmt: skip

    def _reference_pass(
        self,
        texts,
        word_spans,
        ent_labels,
        rel_labels,
        collect_probs,
        entities_out,
        relations_out,
        ent_thr,
        rel_thr,
        symmetric,
        fixed_entities=None,
        one_way=False,
        prompt_relations=None,
    ) -> None:
        """``one_way`` (the hybrid layout): ``prompt_relations``, the first of
        ``rel_labels``, in the prompt of the text, read by the joint encoder; the vectors
        of the others read one way after it (:func:`naive_one_way_vectors`)."""
        prompt_rels = list(prompt_relations) if one_way else rel_labels
        encoded = [
            reference_encode(self.encoder, t, s, ent_labels, prompt_rels)
            for t, s in zip(texts, word_spans, strict=True)
        ]
        width = self.config.max_width
        for batch_ids in self._batches(encoded):
            items = [encoded[i] for i in batch_ids]
            batch = collate(items)
            hidden = self.model.encode(batch)
            span_hidden = self.model.span_hidden(hidden, batch)
            probs = None
            if ent_labels and fixed_entities is None:
                ent_emb = self.model.label_embeddings(
                    hidden, batch["entity_markers"], self.model.entity_label_proj
                )
                logits = self.model.entity_logits_from_hidden(span_hidden, ent_emb)
                mask = self.model.span_mask(batch)
                probs = torch.sigmoid(logits).masked_fill(~mask.unsqueeze(-1), 0.0)
            rel_emb = None
            if one_way:
                read_one_way = rel_labels[len(prompt_rels) :]
                rel_emb = torch.stack(
                    [naive_one_way_vectors(self, enc, ent_labels, read_one_way) for enc in items]
                )
                if prompt_rels:
                    in_prompt = self.model.label_embeddings(
                        hidden, batch["relation_markers"], self.model.relation_label_proj
                    )
                    rel_emb = torch.cat([in_prompt, rel_emb], 1)
            elif rel_labels:
                rel_emb = self.model.label_embeddings(
                    hidden, batch["relation_markers"], self.model.relation_label_proj
                )
            for j, i in enumerate(batch_ids):
                enc = items[j]
                if probs is not None:
                    p = probs[j, :, : len(ent_labels)].numpy()
                    p = p.reshape(-1, width, len(ent_labels))[: len(enc.word_spans)].reshape(
                        -1, len(ent_labels)
                    )
                    if collect_probs is not None:
                        collect_probs[i].append(p)
                        continue
                    found = self._decode_entities(p, ent_labels, ent_thr)
                    entities_out[i] = found
                if fixed_entities is not None:
                    found = fixed_entities[i]
                if rel_emb is None or len(found) < 2:
                    continue
                relations_out[i].extend(
                    self._score_relations(
                        hidden[j],
                        span_hidden[j],
                        enc,
                        found,
                        rel_emb[j, : len(rel_labels)],
                        rel_labels,
                        rel_thr,
                        symmetric,
                    )
                )

    def _decode_entities(
        self, probs: np.ndarray, labels: list[str], threshold: float
    ) -> list[WordEntity]:
        """Flat decoding: best label per span, greedy by score, no overlapping spans."""
        width = self.config.max_width
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
        span_hidden: torch.Tensor,
        enc: EncodedText,
        found: list[WordEntity],
        rel_emb: torch.Tensor,
        rel_labels: list[str],
        threshold: float,
        symmetric: set[str],
    ) -> list[WordRelation]:
        width = self.config.max_width
        span_idx = torch.tensor([e.start * width + (e.end - e.start - 1) for e in found])
        tokens = torch.tensor(
            [[enc.word_first_token[e.start], enc.word_last_token[e.end - 1]] for e in found]
        )
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
        logits = reference_pair_logits(
            self.model,
            hidden,
            self.model.project_spans(span_hidden[span_idx]),
            tokens,
            cluster_t,
            c,
            pairs,
            rel_emb,
        )
        probs = torch.sigmoid(logits).numpy()
        members: list[list[int]] = [[] for _ in range(c)]
        for m, k in enumerate(cluster):
            members[k].append(m)
        pair_index = {(int(h), int(t)): p for p, (h, t) in enumerate(pairs.tolist())}
        out = []
        for p, r in zip(*np.nonzero(probs > threshold), strict=True):
            h, t = pairs[p].tolist()
            label = rel_labels[int(r)]
            score = float(probs[p, r])
            if label in symmetric:
                if h > t:
                    continue
                score = max(score, float(probs[pair_index[(t, h)], r]))
            mh, mt = _closest(members[h], members[t], found)
            out.append(WordRelation(mh, mt, label, score))
        return out


def _groups(extractor: JointExtractor, labels: list[str]) -> list[list[str]]:
    """Labels in order, in groups whose [R] + tokens fit half of the prompt budget."""
    budget = int(extractor.config.max_length * 0.4) // 2
    groups: list[list[str]] = [[]]
    used = 0
    for label in labels:
        cost = 1 + len(extractor.encoder.tokenizer(label, add_special_tokens=False)["input_ids"])
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(label)
        used += cost
    return groups


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


def naive_one_way_vectors(
    extractor: JointExtractor,
    enc: EncodedText,
    entity_labels: list[str],
    labels: list[str],
) -> torch.Tensor:
    """(L, D) vectors of relation labels read one way after one text, the plain way.

    The text (``enc``: encoded with its entity labels only, or, in the hybrid layout,
    with the first relation labels too) goes through the library's own encoder forward,
    which gives its hidden states
    before every layer. Each group of labels (as in the joint layout) starts from the
    embeddings of its tokens at the positions they have in the joint prompt
    (``[CLS] [E] ... [R] ... [SEP] [SEP]``), and at every layer its tokens attend to the
    text's states of that layer and to each other (``scaled_dot_product_attention``),
    the labels' linear layers being the joint ones plus the one-way update.
    """
    model = extractor.model
    bert = model.encoder
    words = bert.get_input_embeddings()
    batch = collate([enc])
    embeds = words(batch["input_ids"]) + model.marker_embedding(batch["marker_types"])
    embeds = embeds + model.shape_embedding(batch["shape_ids"])
    text_states = bert(
        inputs_embeds=embeds, attention_mask=batch["attention_mask"], output_hidden_states=True
    ).hidden_states
    updates = {}
    if hasattr(model, "one_way_lora"):
        for name, module in bert.named_modules():
            key = name.replace(".", "__")
            if key in model.one_way_lora:
                updates[id(module)] = model.one_way_lora[key]

    def linear(f, x):
        y = f(x)
        return y + updates[id(f)](x) if updates else y

    out = []
    for group in _groups(extractor, labels):
        prompt = reference_encode(extractor.encoder, "", [], entity_labels, group)
        start, stop = prompt.relation_marker_positions[0], len(prompt.input_ids) - 2
        ids = torch.tensor(prompt.input_ids[start:stop])
        markers = torch.tensor(prompt.marker_types[start:stop])
        states = bert.embeddings(
            inputs_embeds=(words(ids) + model.marker_embedding(markers)).unsqueeze(0),
            position_ids=torch.arange(start, stop).unsqueeze(0),
        )
        for layer, text in zip(bert.encoder.layer, text_states, strict=False):
            attention = layer.attention.self
            heads, size = attention.num_attention_heads, attention.attention_head_size

            def split(x, heads=heads, size=size):
                return x.view(1, -1, heads, size).transpose(1, 2)

            text_k, text_v = attention.key(text), attention.value(text)
            q = split(linear(attention.query, states))
            k = split(torch.cat([text_k, linear(attention.key, states)], 1))
            v = split(torch.cat([text_v, linear(attention.value, states)], 1))
            context = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            context = context.transpose(1, 2).reshape(1, -1, heads * size)
            output = layer.attention.output
            attended = output.LayerNorm(linear(output.dense, context) + states)
            inner = layer.intermediate.intermediate_act_fn(
                linear(layer.intermediate.dense, attended)
            )
            states = layer.output.LayerNorm(linear(layer.output.dense, inner) + attended)
        out.append(states[0, [p - start for p in prompt.relation_marker_positions]])
    return model.relation_label_proj(torch.cat(out))
