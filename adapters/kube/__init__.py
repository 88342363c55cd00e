"""Kubernetes through kubernetes-asyncio: the resource store on the CRDs (store, watch, status,
kinds, bodies), step Jobs and their pods (jobs, workloads, shapes, steplogs), ResourceQuotas
(quotas), CRD installation (crds), and the API client (client, connection, errors).
"""
