"""The backend cluster on NATS JetStream (`vigie-backend --bus nats://HOST:PORT`, docs/cluster.md).

Replicas share device state through a JetStream KV bucket whose stream sequence is the revision a
console sees, so a resume point is valid on every replica; work that must happen once runs on the
replica holding a lease in another KV bucket."""
