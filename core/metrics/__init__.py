"""The platform's Prometheus metrics, every one declared here: one list to read for what is counted.

Names follow Prometheus's conventions: a `mentorq_` prefix, the unit in the name (`_seconds`,
`_tokens`), `_total` on counters. Label values are bounded sets (a kind, a lane, a status, a stable
error code, a provider's name), never a user id, a job id or free text: `bounded()` keeps a value
that could come from outside (an error code a kind raised) to the short snake_case a code is.

Which process counts what:
- job creation, ends and retries are counted by the process that committed them, after the
  commit (db/unit_of_work.py): the API (submits, cancels, cached answers) and the workers
  (claims, finishes, failures, the reconciler's);
- queue depth and the oldest queued job's age are read from PostgreSQL when the API is scraped
  (api/metrics/): they are the database's, so any API replica gives the same figures;
- the rest where it happens (the LLM and embedding providers, the sandbox, webhook delivery, the
  answer cache, the API's refusals, the reconciler).

A process with several children (uvicorn's workers, Celery's prefork pool) counts into files that
its scrape adds up (core/metrics/processes.py).
"""
