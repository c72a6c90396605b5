import sys

from suite.audit.cli import main

sys.exit(main())
