"""os1: a personal AI companion that runs on your own machine."""

import os as _os
import sys as _sys

# A server runs many users' sentence-model calls at once: OpenBLAS's own threads then spin
# against each other (4-7x the CPU per turn, docs/benchmarks.md). One thread per call, set
# here because it must come before numpy is first imported.
if _sys.argv[1:2] in (["serve"], ["worker"]):
    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
