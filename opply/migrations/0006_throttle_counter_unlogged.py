"""Throttle counters on PostgreSQL skip the write-ahead log: one upsert per request would
otherwise wait for a WAL flush. A crash empties the table, which only resets the windows."""

from django.db import migrations


def set_unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE opply_throttlecounter SET UNLOGGED")


def set_logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE opply_throttlecounter SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("opply", "0005_throttle_counter")]

    operations = [migrations.RunPython(set_unlogged, set_logged)]
