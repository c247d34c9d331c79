"""Training the extractor (``kgbuild train``) and scoring it (``kgbuild eval``).

* :mod:`.config`: :class:`~.config.TrainConfig` and :class:`~.config.DataSpec`;
* :mod:`.data`: dataset readers into :class:`~.data.Example`;
* :mod:`.sampling`: label pools, sampled prompts and batches;
* :mod:`.losses`: the joint loss and the ``one_way`` stage's distillation loss;
* :mod:`.thresholds`: picking decision thresholds on held-out dev labels;
* :mod:`.loop`: the resumable training loop;
* :mod:`.model_card`: the checkpoint's README with its scores;
* :mod:`.silver`: silver entity labels from a teacher;
* :mod:`.evaluate`: strict micro/macro scores of an extractor on a dataset.
"""
