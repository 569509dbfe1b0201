"""Benchmark: offline render time and peak memory of every example stack.

Targets (2-core CI machine): each example renders in under TARGET_SECONDS and allocates under
TARGET_PEAK_MIB at peak in Python. Run: `make bench` (or `.venv/bin/python bench/render.py`).
Exits 1 when a target is missed. Not part of `make test`: timing belongs here, not in tests.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprints.plan.engine import load_stack_file, render_stack  # noqa: E402

TARGET_SECONDS = 8.0
TARGET_PEAK_MIB = 128.0
RUNS = 3


def main() -> int:
    missed = False
    print(f"{'stack':<24}{'resources':>10}{'median s':>10}{'peak MiB':>10}")
    for path in sorted((ROOT / "stacks").glob("Pulumi.*-example.yaml")):
        stack = load_stack_file(path)
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            plan = render_stack(stack)
            times.append(time.perf_counter() - start)
        tracemalloc.start()
        render_stack(stack)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        median, peak_mib = statistics.median(times), peak / 2**20
        flag = ""
        if median > TARGET_SECONDS or peak_mib > TARGET_PEAK_MIB:
            missed, flag = True, "  MISSED TARGET"
        print(f"{stack.stack:<24}{len(plan.resources):>10}{median:>10.2f}{peak_mib:>10.1f}{flag}")
    print(f"targets: < {TARGET_SECONDS} s and < {TARGET_PEAK_MIB} MiB per example")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
