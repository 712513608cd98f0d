import sys

from gaplab.cli.main import main

sys.exit(main())
