"""Built-in plugins. Each sub-package is one plugin, registered through the ``bench``
entry-point group in pyproject.toml exactly as a third-party package would be."""
