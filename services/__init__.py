"""One package per process: `python -m services.<name>`. Services never import each other."""
