"""The Qt desktop app: one application whose window shows one role's view. Never imports the store."""

import os

# qasync picks its Qt binding when it is first imported; name ours, whatever the import order (a known trap).
os.environ.setdefault("QT_API", "pyside6")
