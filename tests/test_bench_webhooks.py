"""The webhook scenario's arithmetic (bench/webhooks.py) and its table (bench/report.py):
pure functions, no servers; and the ceiling's outbox lock, the API's own."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def webhooks():
    return _bench_module("webhooks")


@pytest.fixture(scope="module")
def report():
    return _bench_module("report")


def receipt(event: int, at: float, *, valid: bool = True) -> dict:
    return {"webhook_id": f"msg_{event}_1", "event": event, "at": at, "valid": valid}


def test_percentile_is_the_nearest_rank_never_better_than_a_value_seen(webhooks):
    values = [float(n) for n in range(100, 0, -1)]

    assert webhooks.percentile(values, 0.5) == 50.0
    assert webhooks.percentile(values, 0.99) == 99.0
    assert webhooks.percentile([7.0, 1.0], 0.99) == 7.0
    assert webhooks.percentile([3.0], 0.5) == 3.0
    assert webhooks.percentile([], 0.5) == 0.0


def test_parse_receipts_leaves_a_line_still_being_written_for_the_next_read(webhooks):
    text = json.dumps(receipt(1, 10.0)) + "\n\n" + json.dumps(receipt(2, 11.0)) + '\n{"webh'

    assert webhooks.parse_receipts(text) == [receipt(1, 10.0), receipt(2, 11.0)]


def test_summarise_counts_order_events_only_and_times_their_first_signed_receipt(webhooks):
    events = [
        (10, "product.stock_changed", 100.0),
        (11, "order.submitted", 100.0),
        (12, "product.stock_changed", 100.5),
        (13, "order.submitted", 100.5),
        (14, "order.submitted", 101.0),
    ]
    receipts = [
        receipt(5, 99.0),  # the warm-up order's: not the burst's
        receipt(11, 100.2),
        receipt(13, 100.7, valid=False),
        receipt(13, 101.5),
        receipt(11, 102.0),  # delivered again: at least once
    ]

    summary = webhooks.summarise(events, receipts, burst_ended=101.0)

    assert summary == {
        "events": 5,
        "webhooks": 3,
        "received": 2,
        "missing": 1,
        "duplicates": 1,
        "invalid": 1,
        "p50_ms": pytest.approx(200.0),
        "p99_ms": pytest.approx(1000.0),
        "max_ms": pytest.approx(1000.0),
        "drain_s": pytest.approx(0.5),
    }


def test_summarise_of_a_burst_delivered_before_it_ended_has_no_drain(webhooks):
    summary = webhooks.summarise([(1, "order.submitted", 5.0)], [receipt(1, 5.1)], 6.0)

    assert (summary["missing"], summary["drain_s"]) == (0, 0.0)


def test_failures_name_missing_webhooks_and_bad_signatures(webhooks):
    outcome = {
        "bursts": [
            {"workers": 1, "missing": 0, "invalid": 0},
            {"workers": 2, "missing": 3, "invalid": 0},
        ],
        "ceiling": {"missing": 0, "invalid": 2},
    }

    assert webhooks.failures(outcome) == [
        "2 worker(s): 3 webhooks never arrived",
        "the ceiling: 2 deliveries with a bad signature",
    ]


def _burst(workers: int) -> dict:
    return {
        "workers": workers,
        "orders": {"rps": 45.2},
        "events_per_s": 90.4,
        "webhooks": 90,
        "p50_ms": 310.0,
        "p99_ms": 880.4,
        "max_ms": 901.0,
        "drain_s": 0.42,
        "missing": 0,
        "duplicates": 0,
        "worker_cpu_ms": 3.456,
    }


def test_the_report_has_a_webhook_table_with_a_row_per_worker_count(report):
    results = {
        "settings": {"connections": 8, "duration_s": 2},
        "webhooks": {
            "concurrency": 8,
            "bursts": [_burst(1), _burst(2)],
            "ceiling": {"sent": 90, "per_s": 512.3, "cpu_ms": 0.91, "missing": 0},
        },
    }

    lines = report._webhook_table(results)

    assert lines[0] == "## Webhooks: events written under a burst of orders, and their delivery"
    rows = [line for line in lines if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert rows == [
        "| 1 | 45 | 90 | 90 | 310 | 880 | 901 | 0.4 | 0 | 0 | 3.46 |",
        "| 2 | 45 | 90 | 90 | 310 | 880 | 901 | 0.4 | 0 | 0 | 3.46 |",
    ]
    assert any("**512 webhooks/s**, 0.91 ms CPU per webhook." in line for line in lines)


def test_a_run_without_the_webhook_scenario_has_no_webhook_table(report):
    assert report._webhook_table({"settings": {}}) == []


def test_the_ceiling_draws_event_ids_under_the_apis_feed_lock():
    from events.outbox import FEED_LOCK_KEY

    assert _bench_module("ceiling").FEED_LOCK_KEY == FEED_LOCK_KEY
