"""NATS JetStream: the event bus (bus.NatsBus over connection, streams, consumer, history), live log
lines on core NATS (live, live_reader), the local nats-server (server), and the KV buckets (kv/).

Every nats-py exception is translated here (errors) into ports.bus_errors, so nothing past this
package sees a library type.
"""
