"""Local mode's adapters for the step ports: the executor that hands steps to the runner process
(executor), the runner's files on disk (layout), step logs read from those files (steplogs), and
no quotas (quotas).
"""
