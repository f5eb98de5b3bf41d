"""Apply: turn a spooled message into recorded events, profile changes and suppressions.

Import from the modules (`analyse`, `batch`, `policy`, ...): the package itself imports
nothing, so a command that only needs `apply.explain` does not load the classifier.
"""
