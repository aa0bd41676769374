"""`python -m vigie.devices`: the same as `vigie-devices`."""

import sys

from vigie.devices.cli import main

sys.exit(main())
