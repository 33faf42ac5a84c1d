"""Run the benchmarks: ``python tests/bench/run.py [name ...]`` (default: all).

Each writes ``bench-results/<name>.json`` and prints it; the README's performance
section quotes them with their date and machine.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

BENCHMARKS = ["gateway", "http_client", "authorization", "risk", "answer_cache", "access_log",
              "replicas", "draw", "statistics"]


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        module = importlib.import_module(f"bench_{name}")
        print(f"== {name}")
        print(json.dumps(module.main(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
