"""Base-model scoring: SpliceAI / OpenSpliceAI networks in numpy, and the score store.

Public API::

    load_model("spliceai" | paths)            -> Model   (SpliceAI .h5 or OpenSpliceAI .pt)
    load_spliceai(paths=None), load_openspliceai(paths)
    score_sequence(model, codes_with_flank)   -> float32 [n, 3]  (neither, acceptor, donor)
    score_genes(genome, genes, model, store_dir, progress=True, ...) -> summary dict
    ScoreStore(dir).genes() / .load(gene_ids) / .model_identity
"""

from fastbuild.basemodel.forward import Runner, score_sequence
from fastbuild.basemodel.models import (
    CHANNEL_ORDER,
    Model,
    ModelSpec,
    Network,
    find_spliceai_weights,
    load_model,
    load_openspliceai,
    load_spliceai,
)
from fastbuild.basemodel.scoring import score_genes, score_region
from fastbuild.basemodel.store import ScoreStore

__all__ = [
    "CHANNEL_ORDER",
    "Model",
    "ModelSpec",
    "Network",
    "Runner",
    "ScoreStore",
    "find_spliceai_weights",
    "load_model",
    "load_openspliceai",
    "load_spliceai",
    "score_genes",
    "score_region",
    "score_sequence",
]
