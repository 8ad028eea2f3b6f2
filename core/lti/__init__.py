"""LTI 1.3 as a tool: the protocol's messages and checks, with no web framework and no database.

`claims` names the claim URIs and reads a verified launch into a `Launch`; `id_token` checks a
platform's signed id_token (RS256 only, by its key id); `platform_keys` fetches and caches the
platforms' JWKS; `launch_state` keeps a login's state and nonce, and a launch's ticket, in Redis;
`tool_keys` holds the tool's own signing keys and publishes them as a JWKS; `roles` says what a
context role may do; `deep_linking` and `registration` write the tool's Deep Linking answer and
its Dynamic Registration configuration. The HTTP side (login
initiation, launch, the JWKS URL) is api/lti/, the stored platforms and accounts db/lti.py.
"""
