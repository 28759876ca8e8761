"""Before/after under wrk: the API of two source trees and the ceiling, side by side.

    .venv/bin/python bench/compare.py BEFORE_TREE [AFTER_TREE] [ENV=VALUE ...]

Each tree (a checkout of the project, e.g. `git worktree add /tmp/before main`) is served
with the run's production settings (bench/run.py) on the database `make bench` loaded; the
ceiling is served from this tree. For every read scenario, the three take turns for
BENCH_ROUNDS rounds of BENCH_DURATION seconds each, so that the machine's load weighs on all
alike; the table gives each side's median req/s and p99 and the ratio to the ceiling.
In catalogue_304 (every request holds the first page's current ETag) the ceiling serves the
full page, so its ratio is the 304's cost against a full page's. ENV=VALUE pairs apply to
the AFTER tree only (e.g. DB_ALIVE_BYPASS_MS=0 to measure it without one lever);
BENCH_CEILING_ENV="ENV=VALUE ..." to the ceiling (e.g. its worker class).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

import run

READS = ["catalogue", "detail", "history", "current", "healthz"]


def main() -> int:
    args = [a for a in sys.argv[1:] if "=" not in a]
    extra = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    if not args:
        sys.exit(__doc__)
    before, after = Path(args[0]).resolve(), Path(args[1] if len(args) > 1 else run.ROOT)
    seconds = int(os.environ.get("BENCH_DURATION", "4"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "8"))
    scenarios = os.environ.get("BENCH_SCENARIOS", ",".join(READS)).split(",")
    database_url = os.environ.get("DATABASE_URL") or run.DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL", run.DEFAULT_REDIS_URL)
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    env = run.run_env(database_url, redis_url)
    sides = {}
    with ExitStack() as stack:
        for name, tree, side_env in (
            ("before", before, env),
            ("after", after, {**env, **extra}),
        ):
            sides[name] = stack.enter_context(run.serve(name, "opply.wsgi", side_env, cwd=tree))
        ceiling_env = dict(p.split("=", 1) for p in os.environ.get("BENCH_CEILING_ENV", "").split())
        sides["ceiling"] = stack.enter_context(
            run.serve(
                "ceiling", "ceiling:app", {**env, **ceiling_env}, "--pythonpath", str(run.BENCH)
            )
        )
        data = json.loads((run.RESULTS / "data.json").read_text())
        for side in ("before", "after"):
            if problems := run.compare(sides[side], sides["ceiling"], data):
                sys.exit(f"{side}: the ceiling disagrees: {problems}")
        for port in sides.values():
            for name in ("catalogue", "history"):
                run.wrk(port, name, 2, connections, min(2, connections))
        # catalogue_304: each tree with the ETag it gives the first page (the two may be
        # made differently); the ceiling, which has no ETags, serves the full page beside them.
        lua = {}
        if "catalogue_304" in scenarios:
            for side in ("before", "after"):
                lua[side] = run.RESULTS / f"data-{side}.lua"
                tag = run.etag(sides[side], "/products/", data["tokens"][0])
                run.write_lua_data({**data, "catalogue_etag": tag}, lua[side])
        table = {}
        for scenario in scenarios:
            runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for _ in range(rounds):
                for side, port in sides.items():
                    name = (
                        "catalogue"
                        if (scenario, side) == ("catalogue_304", "ceiling")
                        else scenario
                    )
                    runs[side].append(
                        run.wrk(
                            port,
                            name,
                            seconds,
                            connections,
                            min(2, connections),
                            lua.get(side) if scenario == name else None,
                        )
                    )
            table[scenario] = {
                side: {
                    "rps": statistics.median(r["rps"] for r in results),
                    "p99_ms": statistics.median(r["p99_ms"] for r in results),
                    "errors": sum(r["non2xx"] + r["socket_errors"] for r in results),
                }
                for side, results in runs.items()
            }
            row = table[scenario]
            ratios = {side: row[side]["rps"] / row["ceiling"]["rps"] for side in sides}
            run.log(
                f"{scenario:>10}: before {row['before']['rps']:6.0f} req/s "
                f"({ratios['before']:.2f}), after {row['after']['rps']:6.0f} req/s "
                f"({ratios['after']:.2f}), ceiling {row['ceiling']['rps']:6.0f}; p99 "
                f"{row['before']['p99_ms']:.1f} → {row['after']['p99_ms']:.1f} ms "
                f"(ceiling {row['ceiling']['p99_ms']:.1f})"
            )
    print(json.dumps({"rounds": rounds, "seconds": seconds, "extra": extra, "table": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
