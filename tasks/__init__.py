"""Job kinds, one folder each (`spec.py` and `task.py`), the registry that finds them, and the platform's own tasks.

Importing this package imports nothing: the API reads the light specs through
`tasks.registry`; only workers import the `task.py` modules.
"""
