import sys

from spear_bench.cli import main

sys.exit(main())
