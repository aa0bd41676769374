import sys

from vigie.app.cli import main

sys.exit(main())
