"""The `source_run` kind: a scheduled source's run. spec.py and task.py as every kind; beside them,
what a run needs on a worker, with no database and no Celery: listing a source's items (a page, an
RSS/Atom feed, a sitemap, a folder: listing.py, folder.py) and reading one item (reader.py), within
bounds and through the network guard. task.py records what they find.
"""
