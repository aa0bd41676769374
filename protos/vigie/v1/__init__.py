"""Generated gRPC/protobuf code for the vigie.v1 API (run `make gen`)."""
