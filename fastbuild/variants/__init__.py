"""``fastbuild variants``: SpliceAI 1.3.1's delta scores for the variants of a VCF, exact and fast.

Public API (imported on first use)::

    annotate_vcf(config=None, *, executor=None, client=None, **options) -> summary dict
    VariantsConfig                     every option of the command
    plan_variants / open_variants_plan / run_variants_unit / finalise_variants   (the run protocol)

Modules: ``config`` (options), ``vcf`` (VCF text in and out), ``semantics`` (SpliceAI's rules),
``genes`` (the annotation as genes), ``annotate`` (scoring a batch of records with shared work),
``unit`` (one work unit), ``job`` (the run protocol's job), ``rows`` (meta-model rows).
"""

from fastbuild.lazy import lazy_exports

_WHERE = {
    "VariantsConfig": "config", "annotate_vcf": "job", "plan_variants": "job", "open_variants_plan": "job",
    "run_variants_unit": "job", "finalise_variants": "job", "VariantJob": "job",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
