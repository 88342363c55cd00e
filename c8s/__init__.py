"""The c8s command line: `c8s <subcommand>` (c8s/cli.py), one module per subcommand."""
