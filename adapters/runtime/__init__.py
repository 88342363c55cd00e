"""What every process needs from its host, whatever the mode: settings from the environment,
the process lifecycle (signals, shutdown), structured logging, /healthz /readyz /metrics, small
asyncio helpers (tasks, retrying), local subprocesses in their own group (processes) and
workspace files to object storage (artifact_files). Services may import these directly.
"""
