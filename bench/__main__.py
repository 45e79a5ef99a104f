"""`python -m bench [all|accuracy|cost|resilience|month|readers|heap|scale|poison] [--quick]
[--out D]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench.common import machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="?", default="all",
                        choices=["all", "accuracy", "cost", "resilience", "month", "readers",
                                 "heap", "scale", "poison"])
    parser.add_argument("--quick", action="store_true",
                        help="the tiny mode of the smoke test (seconds, not minutes)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the JSON results go (default bench/results)")
    parser.add_argument("--before", type=Path, default=None,
                        help="scale: a source tree of the code to compare with "
                             "(git archive BASE | tar -x -C DIR)")
    parser.add_argument("--repeats", type=int, default=3, help="scale: cost repeats")
    parser.add_argument("--parts", default="cost,scale,workers",
                        help="scale: which parts, comma-separated")
    args = parser.parse_args(argv)
    info = machine()
    print(f"# sla-probe bench: {info['nproc']} CPUs ({info['cpu_model']}), "
          f"{info['mem_gib']} GiB, Python {info['python']}, {info['when']}\n", flush=True)
    started = time.monotonic()
    if args.which in ("all", "accuracy"):
        from bench import accuracy  # noqa: PLC0415

        asyncio.run(accuracy.run(args.quick, args.out))
    if args.which in ("all", "cost"):
        from bench import cost  # noqa: PLC0415

        cost.run(args.quick, args.out)
    if args.which == "month":
        from bench import monthreport  # noqa: PLC0415

        monthreport.run(args.quick)
    if args.which == "readers":
        from bench import readers  # noqa: PLC0415

        readers.run(args.quick, args.out)
    if args.which in ("all", "heap"):
        from bench import heap  # noqa: PLC0415

        heap.run(args.quick, args.out)
    if args.which == "scale":
        from bench import scale  # noqa: PLC0415

        scale.run(args.quick, args.out, before=args.before, repeats=args.repeats,
                  parts=tuple(args.parts.split(",")))
    if args.which == "poison":
        from bench import poison  # noqa: PLC0415

        poison.run(args.quick, args.out)
    if args.which in ("all", "resilience"):
        from bench import resilience  # noqa: PLC0415

        resilience.run(args.quick, args.out)
    print(f"\nbench {args.which} took {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
