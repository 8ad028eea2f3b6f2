"""Webhook pieces both the API and the workers use: Standard Webhooks signing and the SSRF guard."""
