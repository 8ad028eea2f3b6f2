"""Every table, one module per feature; importing this package registers them all on `Base.metadata`."""

from core.job_status import ACTIVE, TERMINAL, JobStatus
from db.models.documents import Chunk, Collection, Document, DocumentBlob, Embedding, KnowledgeState
from db.models.jobs import Job, JobEvent
from db.models.users import RevokedToken, User
from db.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSecret

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Chunk",
    "Collection",
    "Document",
    "DocumentBlob",
    "Embedding",
    "Job",
    "JobEvent",
    "JobStatus",
    "KnowledgeState",
    "RevokedToken",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSecret",
]
