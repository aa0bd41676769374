import sys

from vigie.backend.cli import main

sys.exit(main())
