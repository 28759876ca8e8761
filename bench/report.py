"""Write docs/benchmarks.md and docs/benchmarks.png from a run's results.json.

    python bench/report.py bench/results/results.json   # after a run (make bench does it)
    python bench/report.py --findings                    # after editing bench/findings.md

The table and the chart come from the run; the findings (profiles, fixes, before/after) and
any other prose are kept by hand in bench/findings.md and copied in below a marker line, so
never edit docs/benchmarks.md itself: `--findings` refreshes the copy without a new run, and
tests/test_docs.py checks that the copy is current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FINDINGS = ROOT / "bench" / "findings.md"
REPORT = DOCS / "benchmarks.md"
FINDINGS_MARKER = (
    "<!-- Below: bench/findings.md, copied by bench/report.py. Edit that file, then run "
    "`python bench/report.py --findings`. -->"
)
P99_LIMIT_MS = 50.0


def with_findings(generated: str) -> str:
    """The report: its generated part, the marker line, then bench/findings.md."""
    return f"{generated.rstrip()}\n\n{FINDINGS_MARKER}\n\n{FINDINGS.read_text().rstrip()}\n"


def generated_part(report: str) -> str:
    """What a run wrote above the marker line."""
    generated, marker, _ = report.partition(FINDINGS_MARKER)
    if not marker:
        raise ValueError(f"{REPORT} has no findings marker; run make bench to rewrite it")
    return generated


def _verdict(entry: dict[str, Any]) -> str:
    """Which of the targets a scenario misses; empty when it meets all of them."""
    api = entry["api"]
    missed = []
    if entry["kind"] in ("write", "placing"):
        failed = api["non2xx"] or api["socket_errors"]
        if entry.get("ceiling"):
            failed = failed or entry["ceiling"]["non2xx"] or entry["ceiling"]["socket_errors"]
        return "errors" if failed else ""
    if entry.get("target_ratio") and entry["ratio"] < entry["target_ratio"]:
        missed.append(f"ratio < {entry['target_ratio']}")
    if api["non2xx"] or api["socket_errors"]:
        missed.append("errors")
    if entry["kind"] == "read" and api["p99_ms"] >= P99_LIMIT_MS:
        missed.append(f"p99 ≥ {P99_LIMIT_MS:.0f} ms")
    return ", ".join(missed)


def _table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | non-2xx | ceiling req/s | ceiling p99 ms "
        "| ratio | target | met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for entry in results["scenarios"]:
        api, ceiling = entry["api"], entry.get("ceiling")
        target = f"≥ {entry['target_ratio']}" if entry.get("target_ratio") else "-"
        if entry["kind"] in ("write", "placing"):
            target = "no errors"
        verdict = _verdict(entry)
        ceiling_rps = f"{ceiling['rps']:.0f}" if ceiling else "-"
        ceiling_p99 = f"{ceiling['p99_ms']:.1f}" if ceiling else "-"
        ratio = f"{entry['ratio']:.2f}" if ceiling else "-"
        label = entry["label"]
        if entry.get("connections") and entry["connections"] != results["settings"]["connections"]:
            label += f" ({entry['connections']} conn.)"
        rows.append(
            f"| {label} | {api['rps']:.0f} | {api['p50_ms']:.1f} | {api['p99_ms']:.1f} "
            f"| {api['non2xx'] + api['socket_errors']} | {ceiling_rps} | {ceiling_p99} "
            f"| {ratio} | {target} | {'yes' if not verdict else 'no: ' + verdict} |"
        )
    return rows


def _placing_table(results: dict[str, Any]) -> list[str]:
    entries = [e for e in results["scenarios"] if e["kind"] == "placing" and "ceiling" in e]
    if not entries:
        return []
    rows = [
        "## Placing orders: the API against the same transaction in bare SQL",
        "",
        "`POST /orders/` through the API and through the ceiling's bare-SQL transaction "
        "(visible products checked, rows locked in id order, stock checked and taken, the "
        "order, its lines, one ledger movement per line, and the stock and order events in "
        "the outbox under the feed's lock; the run first checks both answer "
        "the same order). *Hot product*: every connection orders one unit of the same product, "
        "so each order waits for the previous one's row lock. *Order of N lines*: one "
        "connection, N distinct random products; the latency is one order's.",
        "",
        "| scenario | API p50 ms | API p99 ms | ceiling p50 ms | ceiling p99 ms "
        "| API ÷ ceiling p50 | API req/s | ceiling req/s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for entry in entries:
        api, ceiling = entry["api"], entry["ceiling"]
        slower = api["p50_ms"] / ceiling["p50_ms"] if ceiling["p50_ms"] else 0.0
        rows.append(
            f"| {entry['label']} ({entry['connections']} conn.) | {api['p50_ms']:.1f} "
            f"| {api['p99_ms']:.1f} | {ceiling['p50_ms']:.1f} | {ceiling['p99_ms']:.1f} "
            f"| {slower:.1f} | {api['rps']:.0f} | {ceiling['rps']:.0f} |"
        )
    return [*rows, ""]


def _webhook_table(results: dict[str, Any]) -> list[str]:
    outcome = results.get("webhooks")
    if not outcome:
        return []
    settings, ceiling = results["settings"], outcome["ceiling"]
    rows = [
        "## Webhooks: events written under a burst of orders, and their delivery",
        "",
        f"bench/webhooks.py: wrk places one-line orders (`POST /orders/`, "
        f"{settings['connections']} connections, {settings['duration_s']:.0f} s) while "
        "`manage.py worker` processes deliver them to an endpoint subscribed to the order "
        "events, at a receiver on 127.0.0.1 that checks every signature and notes when each "
        "webhook arrived. Each order writes two events (`product.stock_changed`, "
        "`order.submitted`); *events/s* counts every outbox row the burst committed, over the "
        "burst's duration. *Latency* runs from an order event's `created_at` (set as its "
        "transaction writes its events, moments before the commit) to the receipt of its "
        "first correctly signed delivery; *drain* from the end of the burst to the last "
        "receipt. The workers run with the defaults (`WORKER_POLL_SECONDS` 0.2, "
        f"`WEBHOOK_CONCURRENCY` {outcome['concurrency']}: a worker sends its batch of due "
        "deliveries on that many threads); the second burst keeps the first's worker and adds "
        "one. *worker CPU* is the workers' own "
        "CPU time (PostgreSQL's work for them not included) from the start of the burst to "
        "the last receipt, per webhook delivered.",
        "",
        "| workers | orders/s | events/s | webhooks | p50 ms | p99 ms | max ms | drain s "
        "| missing | duplicates | worker CPU ms per webhook |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for burst in outcome["bursts"]:
        rows.append(
            f"| {burst['workers']} | {burst['orders']['rps']:.0f} | {burst['events_per_s']:.0f} "
            f"| {burst['webhooks']} | {burst['p50_ms']:.0f} | {burst['p99_ms']:.0f} "
            f"| {burst['max_ms']:.0f} | {burst['drain_s']:.1f} | {burst['missing']} "
            f"| {burst['duplicates']} | {burst['worker_cpu_ms']:.2f} |"
        )
    rows += [
        "",
        f"Ceiling: the last burst's {ceiling['sent']} order events sent again from a plain "
        "loop, one after the other, with the same signing and HTTP client "
        "(`events.sending.post`, a connection per request) but none of the worker's polling, "
        "fan-out, claims, leases or attempt records: "
        f"**{ceiling['per_s']:.0f} webhooks/s**, {ceiling['cpu_ms']:.2f} ms CPU per webhook"
        + (f", {ceiling['missing']} missing" if ceiling["missing"] else "")
        + ". It sends after the fact, so it has no commit-to-receipt latency: compare its "
        "rate with the burst's order rate, and its CPU per webhook with the workers'.",
        "",
    ]
    return rows


def _cpu_table(results: dict[str, Any]) -> list[str]:
    if "cpu" not in results:
        return []
    labels = {entry["name"]: entry["label"] for entry in results["scenarios"]}
    rows = [
        "## CPU per request, in-process",
        "",
        f"`bench/profiling.py cpu`, run at the end of `make bench`: {results['cpu']['requests']} "
        "sequential requests per scenario through Django's whole WSGI handler and through the "
        "ceiling, in one process, with the same settings and database. CPU time counts that "
        "process only (PostgreSQL's and Redis's work is not in it), so it moves far less than "
        "wall time when other work shares the machine: the steadiest view of the Python cost.",
        "",
        "| scenario | API CPU ms | ceiling CPU ms | CPU ratio | API wall ms | ceiling wall ms |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, m in results["cpu"]["scenarios"].items():
        ratio = m["ceiling_cpu_ms"] / m["api_cpu_ms"] if m["api_cpu_ms"] else 0.0
        rows.append(
            f"| {labels.get(name, name)} | {m['api_cpu_ms']:.2f} | {m['ceiling_cpu_ms']:.2f} "
            f"| {ratio:.2f} | {m['api_wall_ms']:.2f} | {m['ceiling_wall_ms']:.2f} |"
        )
    return [*rows, ""]


def _chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # only here: tests import this module without the bench dependencies

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    entries = [e for e in results["scenarios"] if "ratio" in e]
    labels = [e["label"] for e in entries][::-1]
    ratios = [e["ratio"] for e in entries][::-1]
    targets = [e.get("target_ratio") for e in entries][::-1]
    colours = [
        "#9e9e9e" if t is None else ("#2e7d32" if r >= t else "#c62828")
        for r, t in zip(ratios, targets, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(entries) + 1.6), dpi=120)
    bars = ax.barh(labels, ratios, color=colours, height=0.6)
    for bar, target in zip(bars, targets, strict=True):
        if target is not None:
            y = bar.get_y()
            ax.plot([target, target], [y - 0.1, y + bar.get_height() + 0.1], color="black", lw=2)
    for bar, ratio in zip(bars, ratios, strict=True):
        ax.text(ratio + 0.01, bar.get_y() + bar.get_height() / 2, f"{ratio:.2f}", va="center")
    ax.set_xlim(0, max(1.0, max(ratios) + 0.15))
    ax.axvline(1.0, color="#555555", lw=0.8, ls=":")
    ax.set_xlabel("API req/s ÷ ceiling req/s (higher is better; black tick = target)")
    settings = results["settings"]
    ax.set_title(
        f"opply vs. its hand-written ceiling: {settings['connections']} connections, "
        f"{settings['workers']} gunicorn workers\n{results['date']}",
        fontsize=10,
    )
    ax.spines[["top", "right"]].set_visible(False)
    legend = [
        Patch(color="#2e7d32", label="ratio meets its target"),
        Patch(color="#c62828", label="ratio below its target"),
        Patch(color="#9e9e9e", label="no target (floor, placing orders)"),
    ]
    ax.legend(handles=legend, loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(results_path: str) -> None:
    results = json.loads(Path(results_path).read_text())
    DOCS.mkdir(exist_ok=True)
    _chart(results, DOCS / "benchmarks.png")
    settings, machine = results["settings"], results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py); the findings below the table are kept by "
        "hand in bench/findings.md.",
        "",
        f"Run: **{results['date']}**, {results['elapsed_s']} s in all.",
        "",
        "![Ratio of each read scenario to its ceiling](benchmarks.png)",
        "",
        "## Results",
        "",
        *_table(results),
        "",
        f"Each scenario: wrk, {settings['duration_s']:.0f} s per side, "
        f"{settings['connections']} connections, {settings['wrk_threads']} threads, a random "
        "buyer's token on every request. In a read scenario the API and the ceiling take "
        f"turns ({settings.get('slices', 1)} each, alternating) so that the machine's load "
        "weighs on both alike; p50 is the turns' request-weighted mean, p99 the worse turn's. "
        "Latencies are wrk's (client side). *non-2xx* counts every response outside 2xx plus "
        "socket errors. *ratio* is the API's req/s over the ceiling's for the same scenario "
        "in the same run. Targets: catalogue and order history ≥ 0.5 of the ceiling, product "
        f"detail and current order ≥ 0.4, no errors, p99 < {P99_LIMIT_MS:.0f} ms for every "
        "read.",
        "",
        *_placing_table(results),
        *_webhook_table(results),
        *_cpu_table(results),
        "## Machine",
        "",
        f"- CPU: {machine['cpus']} x {machine['cpu_model']} (shared by wrk, gunicorn and "
        "PostgreSQL)",
        f"- Memory: {machine['memory']}",
        f"- Linux {machine['kernel']}, Python {machine['python']}, PostgreSQL "
        f"{machine['postgresql']}, {machine['wrk']}",
        f"- Load average when the run started: {machine['load_average']}",
        "",
        "## How it runs",
        "",
        "- Production settings: `DEBUG=false`, a `SECRET_KEY` generated for the run, "
        "HSTS and the HTTPS redirect on (wrk sends `X-Forwarded-Proto: https` as the "
        "TLS-terminating proxy would), the JSON access log line per request on (to a file), "
        "`CONN_MAX_AGE=60` with health checks (skipped for a connection used in the last "
        "`DB_ALIVE_BYPASS_MS`, 500 ms, whose socket shows no close by the server).",
        f"- gunicorn with `gunicorn.conf.py`, {settings['workers']} "
        f"{settings.get('worker_class', 'sync')} workers"
        + (f" with {settings['threads']} threads each" if settings.get("threads", 1) > 1 else "")
        + ", for both the API and the ceiling (one database connection per thread in both).",
        f"- Throttles raised to {settings['throttle_rate']} through `THROTTLE_USER_RATE` and "
        f"`THROTTLE_ANON_RATE`: they still run on every request and never refuse one. "
        f"Their counters live in {settings['throttle_cache']}"
        + (
            " (`REDIS_URL`, a separate Redis database and key prefix): the default database "
            "cache would add a SELECT and an UPDATE per request that no production deployment "
            "under load should pay."
            if settings["throttle_cache"] == "Redis"
            else " (Redis did not answer)."
        ),
        "- Dataset (bench/dataset.py, COPY): 10,000 products (1 % inactive), 1,000 buyers with "
        "tokens and a three-line cart each, 10,000 historical submitted or fulfilled orders "
        "of 1 to 20 lines, and the stock ledger that explains every product's stock.",
        "- The ceiling (bench/ceiling.py) is a bare WSGI app: the same SQL through psycopg "
        "(token lookup included), the same JSON; the run checks its answers equal the API's "
        "before measuring.",
        "- Writes: *add_to_order* adds one unit of a random product to a random buyer's cart; "
        "*submit* places a fresh one-line order (`POST /orders/`) for a random buyer; the "
        "placing scenarios are described above. Stock is 1,000,000 per product, so none ever "
        "runs short. After them, `manage.py check_stock` "
        + (
            "found the ledger still explaining every product's stock."
            if results.get("ledger_consistent", True)
            else "found stock that the ledger does not explain: see bench/results."
        ),
        "",
    ]
    REPORT.write_text(with_findings("\n".join(lines)))


def refresh_findings() -> None:
    REPORT.write_text(with_findings(generated_part(REPORT.read_text())))


if __name__ == "__main__":
    if sys.argv[1:] == ["--findings"]:
        refresh_findings()
    else:
        main(sys.argv[1])
