"""The console: the Qt client of the backend (docs/architecture.md).

gRPC's fork handlers are turned off before anything imports grpc (it reads the setting when it
loads). The console never uses gRPC in a forked child, but QtWebEngine forks its zygotes while the
session's gRPC threads run, and with the handlers on, the map's renderer sometimes could not start
(its zygote died before it ran; 3 probe runs of 30 with them on, none of 30 with them off:
docs/soak.md, "Two hangs").
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
