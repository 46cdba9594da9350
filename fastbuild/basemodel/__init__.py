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

from fastbuild.lazy import lazy_exports

#: public name -> the module that defines it (imported on first use: the engines pull in numba
#: and BLAS, which ``fastbuild --help`` and the configuration never need)
_WHERE = {
    "BACKENDS": "backends", "make_runner": "backends", "score_sequence": "backends",
    "ForwardPass": "forward", "NumpyRunner": "forward",
    "CHANNEL_ORDER": "models", "Model": "models", "ModelSpec": "models", "Network": "models",
    "find_spliceai_weights": "models", "load_model": "models", "load_openspliceai": "models",
    "load_spliceai": "models",
    "score_region": "regions", "Runner": "runner",
    "ScoringJob": "scoring", "plan_scoring": "scoring", "run_scoring": "scoring", "score_genes": "scoring",
    "ScoreStore": "store",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
