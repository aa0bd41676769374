"""The console's client layer: the only code that talks gRPC and reads or builds vigie.v1
messages. core.py (loop thread, channels, login, submit), streams.py (the resilient-stream
helper every watch uses), one module per service, convert.py (protobuf <-> records) and
session.py (the facade that builds them on one core)."""
