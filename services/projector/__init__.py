"""The projector: folds the event stream into the status users read with kubectl / c8s get."""
