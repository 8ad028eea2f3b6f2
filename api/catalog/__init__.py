"""Catalog: the job kinds and models this platform offers."""
