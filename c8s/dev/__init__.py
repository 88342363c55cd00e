"""`c8s dev up`'s machinery: the state directory and what each child process gets (state_dir), the
supervisor that restarts them, readiness probes, the Kubernetes-mode CRD install (cluster), and the
demo (its repository over git daemon, manifests, a signed GitHub push, live progress)."""
