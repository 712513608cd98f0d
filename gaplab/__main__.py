import sys

from gaplab.cli import main

sys.exit(main())
