"""Low-rank adapters of the encoder, and the encoder layer that reads labels one way.

The ``hybrid`` relation-label layout appends relation labels after the text; they read
the text at every layer, the text never reads them
(:meth:`~kgbuild.extract.model.network.JointExtractionModel.encode_one_way`). The label
rows go through the encoder's layers with a low-rank update of their own
(``one_way_lora``), trained by the ``one_way`` training stage to score pairs as the joint
layout does.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LowRankUpdate", "lora_key", "lora_name", "one_way_layer"]


class LowRankUpdate(nn.Module):
    """A LoRA update ``x -> scale * (x A^T) B^T`` of one linear layer (Hu et al., 2021).

    Written out rather than taken from ``peft``: it applies to the rows of the relation
    labels read one way only (:func:`one_way_layer`), inside a layer that is itself
    written out, and is merged into the weights for export; neither needs more.
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


def one_way_layer(
    layer: nn.Module,
    text: torch.Tensor,
    labels: torch.Tensor,
    text_bias: torch.Tensor,
    label_bias: torch.Tensor,
    label_updates: dict[int, LowRankUpdate] | None,
    rows: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
) -> tuple[torch.Tensor, torch.Tensor]:
    """One BERT encoder layer (eval mode) in which ``text`` (B, T, H) attends to itself
    and ``labels`` (B, N, H) to the text and themselves (additive ``text_bias``
    (B, 1, 1, T) and ``label_bias`` (B, 1, N, T + N)).

    The two parts go through the layer's weights apart (only the labels' keys and values
    are joined to the text's): the text with the joint weights, the labels with
    ``label_updates`` (``one_way_lora``, by linear layer; the labels with the joint
    weights alone scored 22.8 relation F1 on 40 Re-DocRED documents before
    ``one_way_lora`` was trained). ``rows``: (K,) indices
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

    text_linear, label_linear = with_updates(None), with_updates(label_updates)
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


def lora_key(module_name: str) -> str:
    return module_name.replace(".", "__")


def lora_name(key: str) -> str:
    return key.replace("__", ".")
