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

ALLOCATOR_VARS = {"MALLOC_TRIM_THRESHOLD_": "268435456", "MALLOC_TOP_PAD_": "67108864"}
"""glibc malloc settings for every contender. By default glibc hands the top of its heap back to the
system as soon as 128 KiB are free there, so a loop of array temporaries can fault the same pages
in again on every step, or not, depending only on where each process's heap top happens to sit:
measured here, a 10 us gradient step took 110 us for 150 epochs of one process and not in another.
A 256 MiB trim threshold and a 64 MiB top pad take that accident out of the comparison. They are
set for the whole run, floor and PyTorch included (``python -m benchmarks`` restarts itself with
them when they are missing), like the BLAS threads above."""
