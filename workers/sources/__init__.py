"""What a scheduled source's run needs on a worker: listing its items (a page, an RSS/Atom feed, a
sitemap, a folder) and reading one item, within bounds and through the network guard.

No database and no Celery here: the `source_run` kind (tasks/source_run/) records what these find.
"""
