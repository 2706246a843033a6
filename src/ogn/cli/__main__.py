import sys

from ogn.cli import main

sys.exit(main())
