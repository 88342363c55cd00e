"""The c8s API: the three custom resources as typed Structs, and the rules that make them valid.

Pure: no I/O. Everything else in c8s sees these typed objects, never raw manifest dicts.
"""
