"""Redis key and channel names shared by the API and the workers."""

JOB_CHANNEL_PREFIX = "mentorq:job:"
WORKER_KEY_PREFIX = "mentorq:worker:"
BROKER_EPOCH_KEY = "mentorq:broker-epoch"


def job_channel(job_id: object) -> str:
    """The pub/sub channel on which a job's live events are published."""
    return f"{JOB_CHANNEL_PREFIX}{job_id}"


def worker_key(hostname: str) -> str:
    """The expiring key a live worker refreshes so /readyz can see it."""
    return f"{WORKER_KEY_PREFIX}{hostname}"
