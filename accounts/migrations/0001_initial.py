# LoginFailure moves here from the opply app: its table stays where it is.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("opply", "0003_login_failures"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LoginFailure",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=100)),
                        ("created_at", models.DateTimeField(db_index=True)),
                    ],
                    options={
                        "db_table": "opply_loginfailure",
                        "indexes": [
                            models.Index(
                                fields=["key", "created_at"], name="login_failure_key_time"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
