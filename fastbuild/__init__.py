"""fastbuild: position-centric splice-site training datasets, fast and memory-bounded.

Import names: ``fastbuild`` (this package: genome access, annotation, the builder and its
command line) and ``kernels`` (Numba kernels over numpy arrays, usable on their own).
The distribution on PyPI-style indexes is called ``fastbuild-splice``.
"""

__version__ = "0.1.0"
