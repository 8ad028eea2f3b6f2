"""LTI 1.3 as a tool, over HTTP: the JWKS URL, OIDC login initiation and the launch, the pages a
launch lands on inside the platform's iframe, and the admin API for registered platforms.

The protocol's checks are core/lti/ (no framework), what is stored db/lti.py. The launch's state
and nonce live in Redis (core/lti/launch_state.py), the platforms' keys in a per-process cache
(core/lti/platform_keys.py). `pages.py` renders the pages a launch shows inside the platform's
frame (not console pages: they have their own headers, framed by the platform)."""
