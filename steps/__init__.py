"""The step model shared by the services that act on steps: which step of which run (plans), its
workload's name (naming), the Kubernetes Job that runs it (job_manifest), the artifact report its
sidecar leaves (artifact_report) and the masker its log goes through (masking).

Pure code over api/ and projections/: no I/O library, no clock.
"""
