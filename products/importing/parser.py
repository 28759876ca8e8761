"""Reading a catalogue CSV (`sku,name,price,quantity_in_stock` and optionally `is_active`,
`min_order_quantity`, `order_increment`, `max_order_quantity`) into rows that
`products.importing.writer.products_import` can write. Every row is checked before anything is
written, and every problem is reported with its line number.

Quantity rules: a column the file leaves out keeps each existing product's value (new
products get the defaults); in a column the file has, a blank cell is the default (1, 1, no
maximum)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO

from products.models import MAX_STOCK, Product
from products.rules import rule_problems

REQUIRED_COLUMNS = ("sku", "name", "price", "quantity_in_stock")
RULE_COLUMNS = ("min_order_quantity", "order_increment", "max_order_quantity")
RULE_DEFAULTS: dict[str, int | None] = {
    "min_order_quantity": 1,
    "order_increment": 1,
    "max_order_quantity": None,
}
OPTIONAL_COLUMNS = ("is_active", *RULE_COLUMNS)
TRUE_WORDS = {"1", "true", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "off"}

_price_field = Product._meta.get_field("price")
MAX_PRICE_DIGITS: int = _price_field.max_digits
PRICE_PLACES: int = _price_field.decimal_places
MAX_SKU = Product._meta.get_field("sku").max_length or 64
MAX_NAME = Product._meta.get_field("name").max_length or 200


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    name: str
    price: Decimal
    quantity_in_stock: int
    # None: the file does not say (new products are active, existing ones keep theirs).
    is_active: bool | None
    # The quantity rules the file gives, by column; a column it leaves out is absent here.
    rules: dict[str, int | None] = field(default_factory=dict)

    def rules_over(self, current: dict[str, int | None]) -> dict[str, int | None]:
        """The product's rules after this row: the file's values over `current`."""
        return {**current, **self.rules}


@dataclass(frozen=True)
class RowError:
    line: int
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"line {self.line}: {'; '.join(self.problems)}"


@dataclass
class ParsedFile:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class ImportFileError(Exception):
    """The file as a whole cannot be read (no header, missing columns, not UTF-8)."""


def parse_products_csv(
    stream: IO[str], *, on_row: Callable[[], object] | None = None
) -> ParsedFile:
    """Read and check every row. Rows with problems go to `errors` (line numbers are the
    file's own, the header being line 1); a SKU seen twice is an error on its later line."""
    reader = csv.DictReader(stream)
    try:
        header = reader.fieldnames
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"The file is not UTF-8 text: {exc}.") from exc
    if not header:
        raise ImportFileError("The file is empty; expected a header line.")
    columns = [column.strip() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s): {', '.join(unknown)}")
        raise ImportFileError(
            f"Bad header ({'; '.join(problems)}); expected "
            f"{','.join(REQUIRED_COLUMNS)}[,{','.join(OPTIONAL_COLUMNS)}]."
        )
    reader.fieldnames = columns
    parsed = ParsedFile()
    first_line_of_sku: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if on_row is not None:
                on_row()
            row, problems = _check(record, line)
            if row is not None:
                seen = first_line_of_sku.setdefault(row.sku, line)
                if seen != line:
                    problems.append(f"sku {row.sku!r} already appears on line {seen}")
            if problems:
                parsed.errors.append(RowError(line=line, problems=tuple(problems)))
            elif row is not None:
                parsed.rows.append(row)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"The file is not UTF-8 text: {exc}.") from exc
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: unreadable CSV ({exc}).") from exc
    return parsed


def _check(record: dict[str | None, str | None], line: int) -> tuple[ImportRow | None, list[str]]:
    problems: list[str] = []
    if record.get(None):
        problems.append("more fields than columns")
    values = {key: (value or "").strip() for key, value in record.items() if key is not None}
    if all(value == "" for value in values.values()):
        return None, ["empty row"]

    sku = values.get("sku", "")
    if not sku:
        problems.append("sku: required")
    elif len(sku) > MAX_SKU:
        problems.append(f"sku: longer than {MAX_SKU} characters")

    name = values.get("name", "")
    if not name:
        problems.append("name: required")
    elif len(name) > MAX_NAME:
        problems.append(f"name: longer than {MAX_NAME} characters")

    price = _price(values.get("price", ""), problems)
    quantity = _quantity(values.get("quantity_in_stock", ""), problems)
    is_active = _flag(values.get("is_active", ""), problems)
    rules = {
        column: _rule(column, values[column], problems)
        for column in RULE_COLUMNS
        if column in values
    }
    if len(rules) == len(RULE_COLUMNS) and not problems:
        # Complete rules are checked here, by line; partial ones against the product's own
        # values when they are written.
        problems.extend(
            f"{column}: {message}"
            for column, message in rule_problems(**rules).items()  # type: ignore[arg-type]
        )

    if problems or price is None or quantity is None:
        return None, problems
    row = ImportRow(
        line=line,
        sku=sku,
        name=name,
        price=price,
        quantity_in_stock=quantity,
        is_active=is_active,
        rules=rules,
    )
    return row, problems


def _rule(column: str, raw: str, problems: list[str]) -> int | None:
    if not raw:
        return RULE_DEFAULTS[column]
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{column}: {raw!r} is not a whole number")
        return None
    if not 1 <= value <= MAX_STOCK:
        problems.append(f"{column}: {raw} is not between 1 and {MAX_STOCK}")
        return None
    return value


def _price(raw: str, problems: list[str]) -> Decimal | None:
    if not raw:
        problems.append("price: required")
        return None
    try:
        price = Decimal(raw)
    except InvalidOperation:
        problems.append(f"price: {raw!r} is not a number")
        return None
    if not price.is_finite():
        problems.append(f"price: {raw!r} is not a number")
        return None
    if price < 0:
        problems.append(f"price: {raw} is negative")
        return None
    exponent = price.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -PRICE_PLACES and price != price.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        problems.append(f"price: {raw} has more than {PRICE_PLACES} decimal places")
        return None
    price = price.quantize(Decimal(1).scaleb(-PRICE_PLACES))
    if len(price.as_tuple().digits) > MAX_PRICE_DIGITS:
        problems.append(f"price: {raw} is too large")
        return None
    return price


def _quantity(raw: str, problems: list[str]) -> int | None:
    if not raw:
        problems.append("quantity_in_stock: required")
        return None
    try:
        quantity = int(raw)
    except ValueError:
        problems.append(f"quantity_in_stock: {raw!r} is not a whole number")
        return None
    if quantity < 0:
        problems.append(f"quantity_in_stock: {raw} is negative")
        return None
    if quantity > MAX_STOCK:
        problems.append(f"quantity_in_stock: {raw} is too large")
        return None
    return quantity


def _flag(raw: str, problems: list[str]) -> bool | None:
    word = raw.lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    problems.append(f"is_active: {raw!r} is not true/false")
    return None
