"""Table models and small widgets the role views share."""
