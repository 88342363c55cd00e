"""Projections: pure folds of the event stream into the status Kubernetes users read.

`evolve(state, seq, event) -> state` functions, no clock, no I/O, no logging. The projector service
applies them and writes the result; anything that reads status can be rebuilt from the stream.
"""
