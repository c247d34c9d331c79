"""The losses: the joint model's (:func:`batch_loss`: every span against the entity
labels, every gold entity pair against the relation labels, focal BCE) and the
``one_way`` stage's (:func:`one_way_loss`: the labels read one way distilled from the
joint layout)."""

from __future__ import annotations

import torch

from kgbuild.extract.model.collation import collate, collate_one_way_rows
from kgbuild.extract.model.encoding import TextEncoder
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.sampling import Instance


def focal_bce(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of focal binary cross-entropy terms (gamma 0 = plain BCE), each term
    multiplied by ``weights`` where given (0 masks it out)."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma:
        p = torch.sigmoid(logits)
        p_t = p * targets + (1 - p) * (1 - targets)
        bce = bce * (1 - p_t).pow(gamma)
    if weights is not None:
        bce = bce * weights
    return bce.sum()


def batch_loss(
    model: JointExtractionModel, items: list[Instance], cfg: TrainConfig
) -> tuple[torch.Tensor, float, float]:
    batch = collate([it.encoded for it in items])
    hidden = model.encode(batch)
    spans, logits = _spans_and_entity_logits(model, hidden, batch)  # (B, S, D), (B, S, Le)
    targets, weights = _entity_targets(items, logits)
    mask = model.span_mask(batch).unsqueeze(-1) & (batch["entity_markers"] >= 0).unsqueeze(1)
    ent_loss = focal_bce(logits[mask], targets[mask], cfg.focal_gamma, weights[mask])

    rel_emb = model.label_embeddings(hidden, batch["relation_markers"], model.relation_label_proj)
    rel_loss = logits.new_zeros(())
    for b, it in enumerate(items):
        n_rel = len(it.encoded.relation_marker_positions)
        if not it.pairs or not n_rel:
            continue
        pair_logits = model.pair_logits(
            hidden[b],
            spans[b, torch.tensor(it.mention_spans)],
            torch.tensor(it.mention_tokens),
            torch.tensor(it.mention_cluster),
            it.num_clusters,
            torch.tensor(it.pairs),
            model.with_no_relation(rel_emb[b, :n_rel]),
        )
        rel_loss = rel_loss + relation_loss(model, it, pair_logits, cfg)
    b = len(items)
    loss = (ent_loss + cfg.relation_loss_weight * rel_loss) / b
    return loss, ent_loss.item() / b, rel_loss.item() / b


def relation_loss(
    model: JointExtractionModel, it: Instance, logits: torch.Tensor, cfg: TrainConfig
) -> torch.Tensor:
    """The gold relations' loss of one text's pair logits (against
    :meth:`~JointExtractionModel.with_no_relation` vectors): the adaptive-threshold loss
    where the model has a no-relation score, else focal BCE per pair and label."""
    if model.config.no_relation_score:
        t, w = _pair_targets(it, logits[:, :-1])
        return adaptive_threshold_loss(logits[:, :-1], logits[:, -1], t, w)
    t, w = _pair_targets(it, logits)
    return focal_bce(logits, t, cfg.focal_gamma, w)


def adaptive_threshold_loss(
    logits: torch.Tensor,
    no_relation: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """ATLOP's adaptive-threshold loss (Zhou et al., 2021), summed over pairs.

    ``logits`` (P, L) of the pairs against the relation labels, ``no_relation`` (P,) the
    pairs' no-relation logits, ``targets`` (P, L) 1 for gold. Each gold label must rank
    above the no-relation score (a softmax over the gold labels and it), and the
    no-relation score above every other label (a softmax over those and it), so the
    threshold is learned per pair instead of fixed. ``weights`` 0 leaves a label out of
    both (a distractor that may be a synonym of a gold label).
    """
    keep = torch.ones_like(targets, dtype=torch.bool) if weights is None else weights > 0
    positive = (targets > 0.5) & keep
    negative = (targets <= 0.5) & keep
    lowest = torch.finfo(logits.dtype).min
    na = no_relation.unsqueeze(-1)
    above = torch.cat([logits.masked_fill(~positive, lowest), na], -1).log_softmax(-1)
    loss_positive = -(above[:, :-1] * positive).sum()
    below = torch.cat([logits.masked_fill(~negative, lowest), na], -1).log_softmax(-1)
    loss_negative = -below[:, -1].sum()
    return loss_positive + loss_negative


@torch.no_grad()
def _joint_teacher(
    model: JointExtractionModel, joint: dict[str, torch.Tensor], entities: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """What an adapter stage's student is taught from: the joint layout's hidden
    states, span vectors and relation-label vectors of a batch, and with ``entities``
    its entity logits (else None); no gradients."""
    hidden = model.encode(joint)
    if entities:
        spans, entity_logits = _spans_and_entity_logits(model, hidden, joint)
    else:
        spans, entity_logits = model.span_embeddings(hidden, joint), None
    relations = model.label_embeddings(hidden, joint["relation_markers"], model.relation_label_proj)
    return hidden, spans, relations, entity_logits


def _adapter_loss(
    cfg: TrainConfig,
    texts: int,
    gold_loss: torch.Tensor,
    distill_loss: torch.Tensor,
    student_vectors: torch.Tensor,
    teacher_vectors: torch.Tensor,
    markers: torch.Tensor,
) -> tuple[torch.Tensor, float, float]:
    """An adapter stage's loss from its summed gold and distillation parts: plus
    ``vector_distill_weight`` times the label vectors' error (:func:`_vector_error`),
    weighted by ``distill_weight``, per text. Returns the loss, the distillation part and
    the gold part (per text)."""
    if cfg.vector_distill_weight:
        distill_loss = distill_loss + cfg.vector_distill_weight * _vector_error(
            student_vectors, teacher_vectors, markers
        )
    # (a batch without a single pair still yields a loss that backward accepts)
    loss = (gold_loss + cfg.distill_weight * distill_loss) / texts + 0.0 * student_vectors.sum()
    return loss, distill_loss.item() / texts, gold_loss.item() / texts


def _vector_error(
    student: torch.Tensor, teacher: torch.Tensor, markers: torch.Tensor
) -> torch.Tensor:
    """Squared error of the student's relation-label vectors (B, L, D) against the
    joint layout's, summed over the real labels (``markers`` >= 0), relative to the
    teacher vectors' mean squared norm. The joint layout's vectors read the text, and
    with them the pair scores of the joint layout come back almost whole (a student's
    text states with the joint vectors lose 0.6 of 23.4 relation F1 on WebNLG's unseen
    relations with gold entities), so matching every label of every text is a far denser
    signal than the pairs' probabilities alone. 0 for a batch without relation labels
    (NER data)."""
    real = (markers >= 0).unsqueeze(-1)
    if not bool(real.any()):
        return student.new_zeros(())
    teacher = teacher.detach()
    scale = (teacher.pow(2).sum(-1, keepdim=True) * real).sum() / real.sum()
    error = ((student - teacher).pow(2).sum(-1, keepdim=True) * real).sum()
    return error / scale.clamp(min=1e-6)


def _kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL divergence of the student's from the teacher's probabilities (sigmoid of the
    logits), summed: cross-entropy minus the teacher's entropy, so the same gradient as
    the cross-entropy and 0 when they agree."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    soft = torch.sigmoid(teacher)
    return bce(student, soft, reduction="sum") - bce(teacher, soft, reduction="sum")


def _pair_losses(
    model: JointExtractionModel,
    items: list[Instance],
    cfg: TrainConfig,
    encoder: TextEncoder,
    teacher: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    student: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gold and the distillation loss of a batch's entity pairs (summed over texts,
    times ``relation_loss_weight``), scored by the teacher (the joint layout) and by a
    student that read each text without relation labels in its prompt. Each is
    (hidden states, span vectors, relation-label vectors)."""
    hidden_j, spans_j, rel_j = teacher
    hidden_t, spans_t, rel_vectors = student
    gold_loss = rel_vectors.new_zeros(())
    distill_loss = rel_vectors.new_zeros(())
    for b, it in enumerate(items):
        n_rel = len(it.encoded.relation_marker_positions)
        if not it.pairs or not n_rel:
            continue
        # the text starts where the prompt ends: its tokens move by the relation labels'
        shift = encoder.prompt_length(it.entity_prompt, it.relation_prompt) - (
            encoder.prompt_length(it.entity_prompt, [])
        )
        mention_spans = torch.tensor(it.mention_spans)
        tokens = torch.tensor(it.mention_tokens)
        cluster = torch.tensor(it.mention_cluster)
        pairs = torch.tensor(it.pairs)
        with torch.no_grad():
            target = model.pair_logits(
                hidden_j[b], spans_j[b, mention_spans], tokens, cluster, it.num_clusters,
                pairs, model.with_no_relation(rel_j[b, :n_rel]),
            )  # fmt: skip
        logits = model.pair_logits(
            hidden_t[b], spans_t[b, mention_spans], tokens - shift,
            cluster, it.num_clusters, pairs, model.with_no_relation(rel_vectors[b, :n_rel]),
        )  # fmt: skip
        gold_loss = gold_loss + cfg.relation_loss_weight * relation_loss(model, it, logits, cfg)
        distill_loss = distill_loss + cfg.relation_loss_weight * _kl(logits, target)
    return gold_loss, distill_loss


def one_way_loss(
    model: JointExtractionModel, items: list[Instance], cfg: TrainConfig, encoder: TextEncoder
) -> tuple[torch.Tensor, float, float]:
    """Loss of ``one_way_lora`` on one batch (everything else frozen).

    The teacher is the joint layout (the text with entity and relation labels, no
    gradients); the student reads the text with its entity labels only and the relation
    labels appended after it, one way (:meth:`JointExtractionModel.encode_one_way`, as
    one group at the positions they have in the joint layout). Pairs are scored from the
    student's text states with its label vectors. The loss is the gold relations' (as in
    training) plus ``distill_weight`` times the KL divergence to the teacher's relation
    probabilities on every pair and ``vector_distill_weight`` times the error of the
    label vectors themselves (:func:`_vector_error`). Entities do not change (the text
    part is frozen), so they have no loss. Returns the loss, the distillation part and
    the gold part (per text).
    """
    joint = collate([it.encoded for it in items])
    hidden_j, spans_j, rel_j, _ = _joint_teacher(model, joint)
    batch = collate_one_way_rows(
        [encoder.encode(it.text, it.word_spans, it.entity_prompt, []) for it in items],
        [encoder.relation_label_block(it.entity_prompt, [it.relation_prompt]) for it in items],
    )
    hidden_t, hidden_l = model.encode_one_way(batch)
    with torch.no_grad():
        spans_t = model.span_embeddings(hidden_t, batch)
    rel_vectors = model.label_embeddings(
        hidden_l, batch["relation_markers"], model.relation_label_proj
    )
    gold_loss, distill_loss = _pair_losses(
        model, items, cfg, encoder, (hidden_j, spans_j, rel_j), (hidden_t, spans_t, rel_vectors)
    )
    return _adapter_loss(
        cfg, len(items), gold_loss, distill_loss, rel_vectors, rel_j, joint["relation_markers"]
    )


def _spans_and_entity_logits(
    model: JointExtractionModel, hidden: torch.Tensor, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every span's vector (B, S, D) and its scores against the batch's entity labels
    (B, S, Le), from the encoder's hidden states."""
    spans = model.span_embeddings(hidden, batch)
    labels = model.label_embeddings(hidden, batch["entity_markers"], model.entity_label_proj)
    return spans, model.entity_logits(spans, labels)


def _entity_targets(
    items: list[Instance], logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and loss weights per (span, label) of a batch's entity logits: the
    label's weight for its negatives (0 for labels the dataset does not annotate), the
    target's own weight for positives."""
    targets = torch.zeros_like(logits)
    weights = torch.zeros_like(logits)
    for b, it in enumerate(items):
        weights[b, :, : len(it.entity_label_weights)] = torch.tensor(it.entity_label_weights)
        if it.entity_targets:
            idx = torch.tensor(it.entity_targets)
            targets[b, idx[:, 0], idx[:, 1]] = 1.0
            weights[b, idx[:, 0], idx[:, 1]] = torch.tensor(it.entity_target_weights)
    return targets, weights


def _pair_targets(it: Instance, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and loss weights of one text's pair logits."""
    t = torch.zeros_like(logits)
    w = torch.ones_like(logits)
    if it.pair_targets:
        idx = torch.tensor(it.pair_targets)
        t[idx[:, 0], idx[:, 1]] = 1.0
        # a distractor may be a synonym of a gold relation: no loss on related pairs
        related = torch.unique(idx[:, 0])
        distractor = torch.tensor(it.relation_distractor[: t.size(1)])
        w[related.unsqueeze(1), distractor.nonzero().squeeze(1).unsqueeze(0)] = 0.0
    return t, w


def train_mode(model: JointExtractionModel, cfg: TrainConfig) -> None:
    """Dropout where weights train: everywhere, or only in the one-way adapter."""
    if cfg.stage == "one_way":
        model.eval()
        model.one_way_lora.train()
    else:
        model.train()
