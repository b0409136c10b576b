"""Benchmarks of typed_dezero against a hand-written NumPy floor and PyTorch (CPU, float64).

Run ``make bench`` or ``python -m benchmarks [--quick] [workload ...]``; see :mod:`benchmarks.run`.

Importing this package pins BLAS/OpenMP to one thread for this process and every child it starts:
the variables must be set before NumPy or torch is first imported, and every entry point
(``python -m benchmarks``, ``python -m benchmarks._child``) imports this package first.
"""

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

for _var in THREAD_VARS:
    os.environ[_var] = "1"
