"""Keeps, of `pg_dumpall --globals-only`, the roles and tablespaces the regression suite made (regress_*): the
statements that create, alter and grant them. The bootstrap superuser's lines are left out (every cluster has one)."""

import re
import sys

SUITE_OBJECT = re.compile(r"\bregress_\w+")
BOOTSTRAP = re.compile(r"^(CREATE|ALTER) ROLE postgres\b")

for line in sys.stdin:
    if line.startswith(("CREATE ", "ALTER ", "GRANT ")) and SUITE_OBJECT.search(line) and not BOOTSTRAP.match(line):
        sys.stdout.write(line)
