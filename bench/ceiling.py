"""The ceiling: the least work any Python implementation of the read endpoints must do.

A bare WSGI application, served by the same gunicorn settings as the API, that answers
the benchmark's read scenarios with the same SQL the API runs (token lookup included), and
places an order (`POST /orders/`) with the least SQL the guarantees allow (visible products,
row locks in id order, stock checked and taken, the order, its lines, one ledger movement
per line, the order's and the stock's events in the outbox under the feed's lock, in one
transaction),
through one psycopg connection per worker, and encodes the same JSON, byte for byte in
shape. No framework, no middleware, no throttle, no logging of its own: what the API
spends beyond this is what Django, DRF and the project's own layers cost.

    gunicorn --config gunicorn.conf.py --pythonpath bench ceiling:app

bench/run.py checks that its responses equal the API's before it measures anything.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

import psycopg

# Prices and totals by the project's own rules: plain functions, no Django.
from orders import pricing

PAGE_SIZE = 20
# events.outbox.FEED_LOCK_KEY (that module needs Django; tests/test_bench_ceiling.py keeps
# the two equal).
FEED_LOCK_KEY = 0x6576656E7473
MAX_PAGE_SIZE = 100

PRODUCT_COLUMNS = (
    "id, name, sku, price, quantity_in_stock, is_active, min_order_quantity, order_increment, "
    "max_order_quantity, version"
)
# Orders with their buyer's username, joined as the API's select_related("user") does.
ORDER_COLUMNS = (
    "o.id, o.user_id, u.username, o.status, o.po_number, o.note, o.version, o.total_amount, "
    "o.created_at, o.submitted_at, o.cancelled_at, o.fulfilled_at"
)
ORDERS_FROM = "orders_order o JOIN auth_user u ON o.user_id = u.id"
TOKEN_SQL = (
    "SELECT u.id, u.is_staff FROM authtoken_token t JOIN auth_user u ON t.user_id = u.id "
    "WHERE t.key = %s AND u.is_active"
)
SEARCH_SQL = "(UPPER(name::text) LIKE UPPER(%s) OR UPPER(sku::text) LIKE UPPER(%s))"
LINES_SQL = (
    "SELECT l.order_id, l.product_id, p.name, l.quantity, l.unit_price, p.price "
    "FROM orders_orderline l JOIN products_product p ON l.product_id = p.id "
    "WHERE l.order_id IN ({}) ORDER BY l.id"
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]


class HttpError(Exception):
    def __init__(self, status: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.body = status, {"detail": detail, "code": code}


_local = threading.local()  # one connection per thread, as Django keeps (gthread workers)


def _db() -> psycopg.Connection[Any]:
    """This thread's connection, opened on first use and reopened if it was lost."""
    connection: psycopg.Connection[Any] | None = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        # Client-side binding, as Django's PostgreSQL backend does by default: the server
        # receives the same statement text from both, so it does the same work for both.
        connection = _local.connection = psycopg.connect(
            os.environ["DATABASE_URL"],
            autocommit=True,
            options="-c TimeZone=UTC",
            cursor_factory=psycopg.ClientCursor,
        )
    return connection


def _rows(sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with _db().cursor() as cursor:
        cursor.execute(sql, tuple(params))
        return cursor.fetchall()


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _caller(environ: Environ) -> tuple[int, bool]:
    scheme, _, key = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Token" or not key:
        raise HttpError("401 Unauthorized", "Authentication required.", "not_authenticated")
    found = _rows(TOKEN_SQL, (key,))
    if not found:
        raise HttpError("401 Unauthorized", "Invalid token.", "authentication_failed")
    return found[0][0], found[0][1]


def _product(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "name": row[1],
        "sku": row[2],
        "price": pricing.money(row[3]),
        "quantity_in_stock": row[4],
        "is_active": row[5],
        "min_order_quantity": row[6],
        "order_increment": row[7],
        "max_order_quantity": row[8],
        "version": row[9],
    }


def _link(environ: Environ, query: dict[str, list[str]], page: int | None) -> str:
    """The page's absolute URL, built as DRF's paginator builds it."""
    query = dict(query)
    if page is None:
        query.pop("page", None)
    else:
        query["page"] = [str(page)]
    scheme = "https" if environ.get("HTTP_X_FORWARDED_PROTO") == "https" else "http"
    url = f"{scheme}://{environ['HTTP_HOST']}{environ['PATH_INFO']}"
    encoded = urlencode(sorted(query.items()), doseq=True)
    return f"{url}?{encoded}" if encoded else url


def _page(
    environ: Environ, count_sql: str, page_sql: str, params: tuple[Any, ...]
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    size = min(int(query.get("page_size", [PAGE_SIZE])[0]), MAX_PAGE_SIZE)
    number = int(query.get("page", ["1"])[0])
    count = _rows(count_sql, params)[0][0]
    pages = max(1, -(-count // size))
    if not 1 <= number <= pages:
        raise HttpError("404 Not Found", "Invalid page.", "not_found")
    rows = _rows(f"{page_sql} LIMIT {size} OFFSET {(number - 1) * size}", params)
    previous = None
    if number > 1:
        previous = _link(environ, query, number - 1 if number > 2 else None)
    envelope = {
        "count": count,
        "next": _link(environ, query, number + 1) if number < pages else None,
        "previous": previous,
    }
    return envelope, rows


def product_list(environ: Environ, user_id: int, is_staff: bool) -> Any:
    where = "TRUE" if is_staff else "is_active"
    params: tuple[str, ...] = ()
    search = parse_qs(environ.get("QUERY_STRING", "")).get("search", [""])[0]
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where, params = f"({where} AND {SEARCH_SQL})", (f"%{escaped}%", f"%{escaped}%")
    envelope, rows = _page(
        environ,
        f"SELECT COUNT(*) FROM products_product WHERE {where}",
        f"SELECT {PRODUCT_COLUMNS} FROM products_product WHERE {where} ORDER BY id",
        params,
    )
    return {**envelope, "results": [_product(row) for row in rows]}


def product_detail(environ: Environ, user_id: int, is_staff: bool, pk: int) -> Any:
    where = "id = %s" if is_staff else "is_active AND id = %s"
    found = _rows(f"SELECT {PRODUCT_COLUMNS} FROM products_product WHERE {where}", (pk,))
    if not found:
        raise HttpError("404 Not Found", "No Product matches the given query.", "not_found")
    return _product(found[0])


def _orders(orders: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    items: dict[int, list[dict[str, Any]]] = {order[0]: [] for order in orders}
    sums: dict[int, Decimal] = dict.fromkeys(items, Decimal(0))
    if orders:
        ids = [order[0] for order in orders]
        lines_sql = LINES_SQL.format(", ".join(["%s"] * len(ids)))
        for order_id, product_id, name, quantity, unit_price, price in _rows(lines_sql, ids):
            unit = pricing.unit_price(frozen=unit_price, current=price)
            sums[order_id] += unit * quantity
            items[order_id].append(
                {
                    "product": product_id,
                    "name": name,
                    "quantity": quantity,
                    "unit_price": pricing.money(unit),
                    "line_total": pricing.money(pricing.line_total(unit, quantity)),
                }
            )
    return [
        {
            "id": pk,
            "status": status,
            "buyer": {"id": user_id, "username": username},
            "po_number": po_number,
            "note": note,
            "version": version,
            "items": items[pk],
            "total_amount": pricing.money(sums[pk] if status == "active" else total),
            "created_at": _timestamp(created),
            "submitted_at": _timestamp(submitted),
            "cancelled_at": _timestamp(cancelled),
            "fulfilled_at": _timestamp(fulfilled),
        }
        for (
            pk,
            user_id,
            username,
            status,
            po_number,
            note,
            version,
            total,
            created,
            submitted,
            cancelled,
            fulfilled,
        ) in orders
    ]


def order_list(environ: Environ, user_id: int, is_staff: bool) -> Any:
    envelope, rows = _page(
        environ,
        "SELECT COUNT(*) FROM orders_order WHERE user_id = %s",
        f"SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.user_id = %s "
        "ORDER BY o.created_at DESC, o.id DESC",
        (user_id,),
    )
    return {**envelope, "results": _orders(rows)}


def order_current(environ: Environ, user_id: int, is_staff: bool) -> Any:
    active = (
        f"SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.user_id = %s AND o.status = 'active'"
    )
    found = _rows(active, (user_id,))
    if not found:
        _rows(
            "INSERT INTO orders_order (user_id, status, total_amount, created_at) "
            "VALUES (%s, 'active', 0, now()) ON CONFLICT DO NOTHING RETURNING id",
            (user_id,),
        )
        found = _rows(active, (user_id,))
    return _orders(found)[0]


def _body(environ: Environ) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        return json.loads(environ["wsgi.input"].read(length))
    except ValueError as error:
        raise HttpError("400 Bad Request", "JSON parse error.", "parse_error") from error


def order_place(environ: Environ, user_id: int, is_staff: bool) -> Any:
    """POST /orders/: the same transaction as the API's order_place, in bare SQL."""
    items = _body(environ)["items"]
    quantities = {int(item["product"]): int(item["quantity"]) for item in items}
    ids = sorted(quantities)
    marks = ", ".join(["%s"] * len(ids))
    visible = "" if is_staff else "is_active AND "
    conn = _db()
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(f"SELECT id FROM products_product WHERE {visible}id IN ({marks})", ids)
        if len(cursor.fetchall()) != len(ids):
            raise HttpError("400 Bad Request", "No such product.", "invalid")
        cursor.execute(
            "INSERT INTO orders_order (user_id, status, total_amount, created_at, submitted_at) "
            "VALUES (%s, 'submitted', 0, now(), now()) RETURNING id, created_at",
            (user_id,),
        )
        order_id, _ = cursor.fetchone()  # type: ignore[misc]
        cursor.execute(
            "SELECT id, name, price, quantity_in_stock, is_active FROM products_product "
            f"WHERE id IN ({marks}) ORDER BY id FOR UPDATE",
            ids,
        )
        locked = {row[0]: row for row in cursor.fetchall()}
        if any(not row[4] or row[3] < quantities[pk] for pk, row in locked.items()):
            raise HttpError("409 Conflict", "Not enough stock.", "insufficient_stock")
        after = {pk: locked[pk][3] - quantities[pk] for pk in ids}
        cursor.execute(
            "UPDATE products_product p SET quantity_in_stock = v.q, updated_at = now() "
            f"FROM (VALUES {', '.join(['(%s::bigint, %s::integer)'] * len(ids))}) v(id, q) "
            "WHERE p.id = v.id",
            [value for pk in ids for value in (pk, after[pk])],
        )
        cursor.execute(
            "INSERT INTO products_stockmovement (product_id, delta, reason, order_id, actor_id, "
            "note, quantity_after, created_at) VALUES "
            + ", ".join(["(%s, %s, 'submit', %s, %s, '', %s, now())"] * len(ids)),
            [v for pk in ids for v in (pk, -quantities[pk], order_id, user_id, after[pk])],
        )
        lines = [(pk, quantities[pk], locked[pk][2]) for pk, _ in items_in_order(items)]
        cursor.execute(
            "INSERT INTO orders_orderline (order_id, product_id, quantity, unit_price) VALUES "
            + ", ".join(["(%s, %s, %s, %s)"] * len(lines)),
            [v for pk, quantity, price in lines for v in (order_id, pk, quantity, price)],
        )
        total = pricing.sum_lines((price, quantity) for _, quantity, price in lines)
        cursor.execute(
            "UPDATE orders_order SET total_amount = %s, submitted_at = created_at, "
            "version = version + 1 WHERE id = %s",
            (total, order_id),
        )
        # The order as every read answers it (the API reads it back too), which is also the
        # order.submitted event's data.
        placed = _orders(
            _rows(f"SELECT {ORDER_COLUMNS} FROM {ORDERS_FROM} WHERE o.id = %s", (order_id,))
        )[0]
        # The outbox's events as the API writes them (events/outbox.py): one stock change per
        # product, then the order's, their ids drawn under the feed's lock.
        events: list[tuple[str, Any, int | None]] = [
            (
                "product.stock_changed",
                {
                    "product": pk,
                    "delta": -quantities[pk],
                    "reason": "submit",
                    "order": order_id,
                    "quantity_after": after[pk],
                },
                None,
            )
            for pk in ids
        ]
        events.append(("order.submitted", placed, user_id))
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK_KEY,))
        cursor.execute(
            "INSERT INTO events_event (type, created_at, data, buyer_id) VALUES "
            + ", ".join(["(%s, now(), %s::jsonb, %s)"] * len(events)),
            [v for kind, data, buyer in events for v in (kind, json.dumps(data), buyer)],
        )
    return placed


def items_in_order(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """The request's lines in the order the API keeps them (as given)."""
    return [(int(item["product"]), int(item["quantity"])) for item in items]


ROUTES: list[tuple[re.Pattern[str], Callable[..., Any]]] = [
    (re.compile(r"^/products/$"), product_list),
    (re.compile(r"^/products/([0-9]+)/$"), product_detail),
    (re.compile(r"^/orders/$"), order_list),
    (re.compile(r"^/orders/current/$"), order_current),
]


def _respond(start_response: StartResponse, status: str, body: Any) -> list[bytes]:
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(encoded)))]
    )
    return [encoded]


def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/healthz":
        return _respond(start_response, "200 OK", {"status": "ok"})
    try:
        for pattern, view in ROUTES:
            if match := pattern.match(path):
                user_id, is_staff = _caller(environ)
                if environ["REQUEST_METHOD"] == "POST" and view is order_list:
                    placed = order_place(environ, user_id, is_staff)
                    return _respond(start_response, "201 Created", placed)
                args = [int(group) for group in match.groups()]
                return _respond(start_response, "200 OK", view(environ, user_id, is_staff, *args))
        raise HttpError("404 Not Found", "Not found.", "not_found")
    except HttpError as error:
        return _respond(start_response, error.status, error.body)
