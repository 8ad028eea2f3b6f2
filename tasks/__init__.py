"""Job kinds, one folder each (`spec.py`, `task.py`), the registry that finds them, the platform's own tasks.

Importing this package imports nothing: the API reads the light specs through
`tasks.registry`; only workers import the `task.py` modules.
"""
