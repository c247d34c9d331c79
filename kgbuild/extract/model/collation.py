"""Batches of encoded texts as the model's input tensors.

:func:`collate` pads texts read with their labels in the prompt; :func:`collate_one_way`
adds the block of relation labels that the ``hybrid`` layout appends after every text
(inference: one block for the batch), :func:`collate_one_way_rows` a block per text
(training).
"""

from __future__ import annotations

import torch

from kgbuild.extract.model.encoding import EncodedText, RelationLabelBlock

__all__ = ["BLOCK_TENSORS", "collate", "collate_one_way", "collate_one_way_rows"]


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
    the ``hybrid`` layout (see
    :meth:`JointExtractionModel.encode_one_way`): ``block_ids``, ``block_markers``,
    ``block_positions``, ``block_groups`` (N,), ``relation_markers`` pointing into the
    block, ``prompt_relation_markers`` (the relation markers of the texts' prompt, as
    :func:`collate` gives them), and the rows the
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
