"""Redis key and channel names shared by the API and the workers."""

JOB_CHANNEL_PREFIX = "mentorq:job:"
JOB_END_CHANNEL_PREFIX = "mentorq:job-end:"
WORKER_KEY_PREFIX = "mentorq:worker:"
BROKER_EPOCH_KEY = "mentorq:broker-epoch"


def job_channel(job_id: object) -> str:
    """The pub/sub channel on which a job's live events are published."""
    return f"{JOB_CHANNEL_PREFIX}{job_id}"


def job_end_channel(job_id: object) -> str:
    """The channel on which only a job's ending event (succeeded, failed, canceled) is published too:
    a request waiting for the job listens here, so it is not woken by every token, and a worker can
    tell from the job's channel whether anyone follows the job live (workers/runtime.py)."""
    return f"{JOB_END_CHANNEL_PREFIX}{job_id}"


# Every job's end channel: an API process subscribes to this pattern once, for all the requests it
# has waiting (api/jobs/event_hub.py). `PUBSUB NUMSUB` of a job's channel does not count patterns.
JOB_END_CHANNELS = f"{JOB_END_CHANNEL_PREFIX}*"


def worker_key(hostname: str) -> str:
    """The expiring key a live worker refreshes so /readyz can see it."""
    return f"{WORKER_KEY_PREFIX}{hostname}"
