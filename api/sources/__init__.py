"""Sources: scheduled feeds, sitemaps and repositories; the Sources page."""
