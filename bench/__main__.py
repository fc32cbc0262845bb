"""Run the benchmarks: `python -m bench [NAME ...] [--json]` (all by default)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from bench import MODULES, REGISTRY


def main(argv: list[str] | None = None) -> int:
    for module in MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(REGISTRY)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    results = {}
    for name in args.names or list(REGISTRY):
        results[name] = REGISTRY[name]()
        if not args.json:
            print(f"{name}:")
            for key, value in results[name].items():
                print(f"  {key}: {value}")
            sys.stdout.flush()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
