#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    from core import startup

    startup.pause_gc()  # until the apps are loaded (core/startup.py)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
