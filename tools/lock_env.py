"""Write requirements/lock.txt from this environment (--write), or show how this
environment drifts from it (--diff). `make lock` and `make test-latest` call it."""
import sys

from stn_plugin.cli.environment_lock import main

if __name__ == "__main__":
    sys.exit(main())
