"""Lambda handlers of the app's own custom resources (each folder is one function's code asset)."""
