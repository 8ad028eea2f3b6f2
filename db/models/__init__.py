"""Every table, one module per feature; importing this package registers them all on `Base.metadata`."""

from core.job_status import ACTIVE, TERMINAL, JobStatus
from db.models.account_mail import AccountMail
from db.models.ask import AnswerCacheEntry, CollectionContentVersion
from db.models.conversations import Conversation, ConversationMessage
from db.models.documents import (
    Chunk,
    Collection,
    Document,
    DocumentBlob,
    Embedding,
    KnowledgeState,
    Transcript,
)
from db.models.exercises import Exercise, Submission
from db.models.instructions import Instruction, InstructionLabel, InstructionLabelMove
from db.models.jobs import Job, JobAttachment, JobEvent
from db.models.learning_sessions import LearningSession
from db.models.llm_routes import LLMRoute
from db.models.lti import (
    LtiAccount,
    LtiContext,
    LtiGradeLink,
    LtiLineItem,
    LtiMembership,
    LtiPlatform,
    LtiRegistrationCode,
    LtiRosterMember,
)
from db.models.matches import Match, MatchGap, MatchScore, Target
from db.models.profiles import Profile, ProfileRevision
from db.models.progress import ProgressEvent, ReviewCard, SkillMastery
from db.models.sources import Source, SourceRun
from db.models.users import OAuthAccount, RevokedToken, User
from db.models.voices import VoiceClip, VoiceProfile
from db.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSecret
from db.models.xapi import XapiStatement

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "AccountMail",
    "AnswerCacheEntry",
    "CollectionContentVersion",
    "Conversation",
    "ConversationMessage",
    "Instruction",
    "InstructionLabel",
    "InstructionLabelMove",
    "Chunk",
    "Collection",
    "Document",
    "DocumentBlob",
    "Embedding",
    "Exercise",
    "Job",
    "JobAttachment",
    "JobEvent",
    "LearningSession",
    "Match",
    "MatchGap",
    "MatchScore",
    "Target",
    "LLMRoute",
    "LtiAccount",
    "LtiContext",
    "LtiGradeLink",
    "LtiLineItem",
    "LtiMembership",
    "LtiPlatform",
    "LtiRegistrationCode",
    "LtiRosterMember",
    "OAuthAccount",
    "Profile",
    "Transcript",
    "VoiceClip",
    "VoiceProfile",
    "ProfileRevision",
    "ProgressEvent",
    "ReviewCard",
    "SkillMastery",
    "Source",
    "SourceRun",
    "Submission",
    "JobStatus",
    "KnowledgeState",
    "RevokedToken",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSecret",
    "XapiStatement",
]
