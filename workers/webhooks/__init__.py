"""Stateless webhook delivery: Standard Webhooks signing, the SSRF guard, one HTTP attempt, the schedule.

Rows (deliveries, secrets) and tasks live elsewhere; these modules only compute and send.
"""
