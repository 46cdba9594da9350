"""Base-model scoring: SpliceAI / OpenSpliceAI networks in numpy (or onnxruntime / OpenVINO), and the score store.

Public API::

    load_model("spliceai" | paths)            -> Model   (SpliceAI .h5 or OpenSpliceAI .pt)
    load_spliceai(paths=None), load_openspliceai(paths)
    make_runner(model, backend="auto", threads=None) -> Runner   (backends: BACKENDS)
    runner.score_sequence(codes_with_flank)   -> float32 [n, 3]  (neither, acceptor, donor)
    score_sequence(model, codes_with_flank, backend=None, runner=None) -> float32 [n, 3]
    score_genes(genome, genes, model, store_dir, progress=True, ...) -> summary dict
    plan_scoring(...) -> ScoringJob; run_scoring(job, executor)     (the run protocol's steps)
    ScoreStore(dir).genes() / .load(gene_ids) / .iter_gene_scores(genes) / .model_identity

Modules: ``runner`` (the Runner interface and what backends share); the engines ``forward``
(numpy; its kernels and their code generation in ``forward_numba_fns``, BLAS threads in
``blas``), ``onnx_backend`` (onnxruntime) and ``openvino_backend``; ``backends`` (choosing
one); ``models`` and ``torchfile`` (weights); ``regions`` (merged same-strand passes);
``scoring`` (genes -> plan of chunk units -> store, a job of :mod:`fastbuild.work.protocol`),
``chunk_worker`` (one chunk, in whichever process runs it); ``store`` (the store's format).
The command-level job (configuration, gene selection) is :mod:`fastbuild.predict`.
"""

from fastbuild.basemodel.backends import BACKENDS, make_runner, score_sequence
from fastbuild.basemodel.forward import ForwardPass, NumpyRunner
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
from fastbuild.basemodel.regions import score_region
from fastbuild.basemodel.runner import Runner
from fastbuild.basemodel.scoring import ScoringJob, plan_scoring, run_scoring, score_genes
from fastbuild.basemodel.store import ScoreStore

__all__ = [
    "BACKENDS",
    "CHANNEL_ORDER",
    "ForwardPass",
    "Model",
    "ModelSpec",
    "Network",
    "NumpyRunner",
    "Runner",
    "ScoreStore",
    "ScoringJob",
    "find_spliceai_weights",
    "load_model",
    "load_openspliceai",
    "load_spliceai",
    "make_runner",
    "plan_scoring",
    "run_scoring",
    "score_genes",
    "score_region",
    "score_sequence",
]
