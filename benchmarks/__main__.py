"""``python -m benchmarks``: see :mod:`benchmarks.run`."""

import os
import sys

from benchmarks import ALLOCATOR_VARS

if any(os.environ.get(name) != value for name, value in ALLOCATOR_VARS.items()):
    # glibc reads its malloc settings at start-up: restart with them, so that this process (which
    # times the floor and PyTorch) and its children (typed_dezero) all run under the same ones.
    os.execve(
        sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]], {**os.environ, **ALLOCATOR_VARS}
    )

from benchmarks.run import main

raise SystemExit(main())
