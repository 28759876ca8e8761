"""Run one function of tests/jobs.py inside Django, for a child process of the system tests.

    python -m tests.run_job <module>:<function>   (keyword arguments as JSON on stdin)

The function's return value is printed as JSON on the last line of stdout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
    import django

    django.setup()
    module_name, _, function_name = sys.argv[1].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(**json.loads(sys.stdin.read() or "{}"))
    print("\n" + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
