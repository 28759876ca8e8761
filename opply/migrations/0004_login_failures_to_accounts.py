# LoginFailure now belongs to the accounts app (its table is kept as it is).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opply", "0003_login_failures"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LoginFailure")],
            database_operations=[],
        ),
    ]
