"""The manager's dashboard: panels read from the figures (issue 11)."""
