"""Running a trained extractor: never imports :mod:`kgbuild.extract.training`.

* :mod:`.extractor`: :class:`~.extractor.JointExtractor` (the pipeline's extractor);
* :mod:`.layouts`: how relation labels reach the model (``hybrid``, ``prompt``), one
  registry of small layout classes;
* :mod:`.onnx_backend`: the encoder and heads exported to ONNX and run on ONNX Runtime;
* :mod:`.lazy`: :class:`~.lazy.LazyExtractor`, which loads torch and the weights on
  first use (its module imports neither).
"""
