"""One module per `c8s` subcommand, each exposing `register(subparsers)` (see c8s.cli)."""
