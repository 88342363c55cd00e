"""NATS KV buckets: local mode's resource store (store, watch, objects) and the webhook's delivery
log (deliveries). KV is JetStream underneath, so it shares the connection and error translation of
adapters.jetstream.
"""
