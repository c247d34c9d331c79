"""The model's inference shortcuts give the same scores as the plain computation."""

import pytest
import torch

from kgbuild.extract import default_model_dir
from kgbuild.extract.model.collation import collate
from kgbuild.extract.model.encoding import TextEncoder, split_words
from kgbuild.extract.model.network import JointExtractionModel

TEXT = "Tim Cook , the chief executive of Apple , was born in Mobile , Alabama in 1960 ."


def _model_and_batch(tokenizer):
    model = JointExtractionModel.from_pretrained(default_model_dir())
    encoder = TextEncoder(tokenizer, max_length=model.config.max_length)
    enc = encoder.encode(
        TEXT, split_words(TEXT), ["person", "organization", "location"], ["works for", "born in"]
    )
    return model, enc, collate([enc])


@torch.inference_mode()
def test_folded_entity_scores_equal_projected_spans(tokenizer):
    model, _, batch = _model_and_batch(tokenizer)
    hidden = model.encode(batch)
    labels = model.label_embeddings(hidden, batch["entity_markers"], model.entity_label_proj)
    span_hidden = model.span_hidden(hidden, batch)

    plain = model.entity_logits(model.span_embeddings(hidden, batch), labels)
    folded = model.entity_logits_from_hidden(span_hidden, labels)

    assert folded.shape == plain.shape == (1, span_hidden.size(1), 3)
    torch.testing.assert_close(folded, plain, rtol=1e-4, atol=1e-4)


def _pair_inputs(tokenizer):
    """The model, one text's hidden states, four mentions' span vectors and first/last
    tokens (words 0-1, 6, 10, 12), and two relation-label vectors."""
    model, enc, batch = _model_and_batch(tokenizer)
    hidden = model.encode(batch)
    labels = model.label_embeddings(hidden, batch["relation_markers"], model.relation_label_proj)
    spans = model.span_embeddings(hidden, batch)[0]
    width = model.config.max_width
    words = [(0, 2), (6, 7), (10, 11), (12, 13)]
    span_idx = torch.tensor([s * width + (e - s - 1) for s, e in words])
    tokens = torch.tensor([[enc.word_first_token[s], enc.word_last_token[e - 1]] for s, e in words])
    return model, hidden[0], spans[span_idx], tokens, labels[0, :2]


# four mentions; pooled: the last two are one entity
@pytest.mark.parametrize("cluster", [[0, 1, 2, 2], [0, 1, 2, 3]], ids=["pooled", "one-each"])
@torch.inference_mode()
def test_pair_scores_equal_the_model_definition(tokenizer, cluster):
    model, hidden, mentions, tokens, labels = _pair_inputs(tokenizer)
    c = max(cluster) + 1
    pairs = torch.tensor([[h, t] for h in range(c) for t in range(c) if h != t])
    args = (hidden, mentions, tokens, torch.tensor(cluster), c, pairs, labels)

    factored = model.pair_logits(*args)  # eval mode: every shortcut
    reference = _naive_pair_logits(model, *args)
    model.dropout.p = 0.0
    for layer in model.pair_proj:
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0
    model.train()  # the training path, with dropout switched off
    trained = model.pair_logits(*args)

    assert factored.shape == (c * (c - 1), 2)
    torch.testing.assert_close(factored, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(trained, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cluster", [[0, 1, 2, 2], [0, 1, 2, 3]], ids=["pooled", "one-each"])
@pytest.mark.parametrize("asked", ["all", "some"])
@torch.inference_mode()
def test_folded_pair_scores_equal_the_model_definition(tokenizer, cluster, asked):
    """The shortcut taken when pairs outnumber tokens: symmetric parts once per unordered
    pair, on the (C x C) grid when most pairs are asked for, gathered otherwise."""
    model, hidden, mentions, tokens, labels = _pair_inputs(tokenizer)
    c = max(cluster) + 1
    every = [[h, t] for h in range(c) for t in range(c) if h != t]
    # "some": one order only for most pairs, both orders for one, fewer than half the grid
    pairs = torch.tensor(every if asked == "all" else [[0, 1], [1, 0], [2, 0], [1, 2]][: c + 1])
    clusters = torch.tensor(cluster)
    folded = model._pair_logits_folded(
        hidden, mentions, tokens[:, 0], tokens[:, 1], clusters, c, pairs, labels
    )
    reference = _naive_pair_logits(model, hidden, mentions, tokens, clusters, c, pairs, labels)
    assert folded.shape == (len(pairs), 2)
    torch.testing.assert_close(folded, reference, rtol=1e-4, atol=1e-4)


def _naive_pair_logits(model, hidden, spans, tokens, cluster, num_clusters, pairs, labels):
    """The model's definition, one pair at a time: max-pooled mentions, mean context."""
    rows = []
    for head, tail in pairs.tolist():
        heads = [i for i in range(len(cluster)) if cluster[i] == head]
        tails = [i for i in range(len(cluster)) if cluster[i] == tail]
        e_h = spans[heads].max(0).values
        e_t = spans[tails].max(0).values
        contexts = []
        for i in heads:
            for j in tails:
                lo = min(tokens[i, 1], tokens[j, 1]) + 1
                hi = max(tokens[i, 0], tokens[j, 0])
                between = hidden[lo:hi]
                mean = between.mean(0) if len(between) else torch.zeros(hidden.size(-1))
                contexts.append(model.context_proj(mean))
        context = torch.stack(contexts).max(0).values
        rep = model.pair_proj(torch.cat([e_h, e_t, context, e_h * e_t]))
        rows.append(rep @ labels.T)
    return torch.stack(rows)
