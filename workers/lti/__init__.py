"""The tool's calls to LTI platforms: an OAuth 2 access token by a signed client assertion, and the
services it opens (Assignment and Grade Services' scores)."""
