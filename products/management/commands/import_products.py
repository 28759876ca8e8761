"""`python manage.py import_products FILE.csv`: upsert the catalogue from a CSV file."""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError
from tqdm import tqdm

from products.importing import (
    IMPORT_BATCH_SIZE,
    ImportFileError,
    ImportRulesRefused,
    parse_products_csv,
    products_import,
)
from products.importing.parser import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

DEFAULT_ENCODING = "utf-8-sig"


def _not_decodable(path: Path, encoding: str) -> str:
    """Where the file stops being `encoding` text, and what to do about it."""
    name = "UTF-8" if encoding == DEFAULT_ENCODING else encoding
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                where = f"line {number}, column {exc.start + 1} (byte 0x{line[exc.start]:02x})"
                break
        else:
            where = "its end"
    hint = (
        "save it as UTF-8, or give its encoding, e.g. --encoding latin-1 (or cp1252)"
        if encoding == DEFAULT_ENCODING
        else "check the file's encoding and pass it with --encoding"
    )
    return f"{path} is not {name} text at {where}: {hint}."


class Command(BaseCommand):
    help = (
        f"Create or update products from a CSV file with the columns "
        f"{','.join(REQUIRED_COLUMNS)}[,{','.join(OPTIONAL_COLUMNS)}], matched by sku. "
        "Every row is checked first; unless all are valid (or --skip-invalid is given) "
        "nothing is written. Stock differences are recorded in the ledger as 'import'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", type=Path, help="the CSV file (UTF-8 unless --encoding, header on line 1)"
        )
        parser.add_argument(
            "--encoding",
            default=DEFAULT_ENCODING,
            help="the file's text encoding, e.g. latin-1 or cp1252 (default: %(default)s, "
            "UTF-8 with or without a byte order mark)",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and only report the invalid ones",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=IMPORT_BATCH_SIZE,
            help="rows per statement and per transaction, buyers writing between batches "
            "(default: %(default)s)",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (it shows on a terminal)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        encoding: str = options["encoding"]
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise CommandError(f"Unknown encoding {encoding!r} (try utf-8 or latin-1).") from exc
        disable_bar = True if options["no_progress"] else None
        try:
            with path.open(newline="", encoding=encoding) as stream:
                total_lines = sum(1 for _ in stream) - 1
                stream.seek(0)
                with self._bar("checking", total_lines, disable_bar) as bar:
                    parsed = parse_products_csv(stream, on_row=bar.update)
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {path}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(_not_decodable(path, encoding)) from exc
        except ImportFileError as exc:
            raise CommandError(f"{path}: {exc}") from exc

        for error in parsed.errors:
            self.stderr.write(str(error))
        if parsed.errors and not options["skip_invalid"]:
            raise CommandError(
                f"{len(parsed.errors)} invalid row(s); nothing was imported. "
                "Fix them, or use --skip-invalid to import the valid rows only."
            )
        if not parsed.rows:
            self.stdout.write("No valid rows to import.")
            return

        try:
            with self._bar("importing", len(parsed.rows), disable_bar) as bar:
                summary = products_import(
                    rows=parsed.rows,
                    actor=None,
                    note=f"import {path.name}"[:255],
                    batch_size=options["batch_size"],
                    on_progress=bar.update,
                )
        except ImportRulesRefused as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(exc.errors)} row(s) would leave incoherent quantity rules; nothing was "
                "imported."
            ) from exc
        except IntegrityError as exc:
            raise CommandError(
                "Another writer created one of these SKUs during the import; the batches "
                "before it were imported. Run the import again to complete it."
            ) from exc

        skipped = f", {len(parsed.errors)} invalid row(s) skipped" if parsed.errors else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {len(parsed.rows)} row(s): {summary.created} created, "
                f"{summary.updated} updated, {summary.unchanged} unchanged; "
                f"{summary.movements} stock movement(s){skipped}."
            )
        )

    def _bar(self, label: str, total: int, disable: bool | None) -> tqdm[Any]:
        # disable=None: a bar on a terminal, none in logs, pipes and tests.
        return tqdm(
            total=max(total, 0),
            desc=label,
            unit=" rows",
            unit_scale=True,
            file=self.stderr._out,
            disable=disable,
            mininterval=0.5,
            # A terminal that reports no width (some containers) still gets a bar.
            ncols=min(shutil.get_terminal_size().columns, 100),
        )
