#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
    if sys.argv[1:2] == ["test"]:
        # The suite never reads a developer's .env, whichever way it is started.
        os.environ.setdefault("ENV_FILE", "")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
