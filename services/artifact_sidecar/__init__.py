"""The artifacts container of a step's pod (Kubernetes mode): upload files, report them."""
