"""The scheduler: turns requested runs into accepted ones and drives their steps to the end."""
