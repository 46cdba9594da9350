"""Shim: ``import keras`` gives ``tf_keras`` (Keras 2 for TensorFlow 2.16+), for the SpliceAI oracle only.

SpliceAI 1.3.1 loads its models with the Keras 2 API; TensorFlow 2.16+ ships Keras 3. Put this
folder first on ``PYTHONPATH`` of the oracle's virtual environment (see README.md beside it):
this package then stands for ``tf_keras`` and each of its loaded submodules (``keras.models`` is
``tf_keras.models``, the very same module object).
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as _tf_keras

for _name, _module in list(sys.modules.items()):
    if _name == "tf_keras" or _name.startswith("tf_keras."):
        sys.modules["keras" + _name[len("tf_keras"):]] = _module

sys.modules[__name__] = _tf_keras
