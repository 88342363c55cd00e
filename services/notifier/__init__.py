"""The notifier: commit statuses on the git provider, chat messages, webhook registration."""
