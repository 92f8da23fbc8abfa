"""``python -m bench [NAME...] [--help]``: run every bench/bench_*.py (or the named ones)
in turn; ``--help`` prints what each one measures and its options instead.

Each module exposes ``main(argv) -> int`` and prints its own table.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                   if m.name.startswith("bench_"))
    wanted = [a for a in argv if not a.startswith("-")]
    if wanted:
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    if "-h" in argv or "--help" in argv:  # each module's docstring says how to run it
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            print(f"== {name.removeprefix('bench_')}\n{(module.__doc__ or '').strip()}\n")
        return 0
    rc = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        rc |= module.main([a for a in argv if a.startswith("-")]) or 0
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
