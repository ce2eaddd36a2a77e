"""The Qt desktop app: one application whose window shows one role's view. Never imports the store."""
