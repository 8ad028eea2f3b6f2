"""The statements mentorq sends to a Learning Record Store, built as Ralph's xAPI models.

Who: the learner as an xAPI account. A learner who came through an LTI launch is the platform's
account (homePage = the platform's issuer, name = the launch's `sub`), so the LRS joins our
statements with the LMS's own; anyone else is mentorq's account (homePage = MENTORQ_PUBLIC_URL,
name = the user's id). Never an e-mail address: an LRS is often shared more widely than we are.

What: stable URLs under MENTORQ_PUBLIC_URL (`/exercises/{id}`, `/collections/{id}`,
`/documents/{id}`), the same activity for as long as the row lives.

Each statement's id is derived from the event (uuid5 of the submission or job and the verb), so an
event recorded again (a job retried) is the same statement, stored once here and at the LRS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.progress.learner_model import CORRECT_AT

# Ralph's models are imported where a statement is built, not with this module: importing any of
# them imports all of ralph.models.xapi (hundreds of pydantic models, about a second of a core),
# which every API process and worker would otherwise pay at start, most never recording a statement.
if TYPE_CHECKING:
    from ralph.models.xapi.base.results import BaseXapiResult

VERBS = {
    name: f"http://adlnet.gov/expapi/verbs/{name}"
    for name in ("attempted", "answered", "passed", "failed", "completed", "experienced", "asked")
}
EXERCISE_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
COLLECTION_TYPE = "http://id.tincanapi.com/activitytype/resource"
DOCUMENT_TYPE = "http://id.tincanapi.com/activitytype/document"
RECORDING_TYPE = "http://adlnet.gov/expapi/activities/media"
TITLE_CHARS = 200


@dataclass(frozen=True)
class Actor:
    home_page: str  # an LMS's issuer, or mentorq's public URL
    name: str  # the platform's sub, or the mentorq user id


@dataclass(frozen=True)
class Activity:
    path: str  # under the public URL: "/exercises/<id>"
    type: str
    title: str | None = None


def statement_id(event_id: uuid.UUID, verb: str, detail: str = "") -> uuid.UUID:
    return uuid.uuid5(event_id, f"xapi:{verb}:{detail}")


def statement(
    *,
    statement_id: uuid.UUID,
    actor: Actor,
    verb: str,
    activity: Activity,
    base_url: str,
    timestamp: datetime,
    result: BaseXapiResult | None = None,
) -> dict[str, Any]:
    """One statement as the JSON an LRS takes; Ralph's models refuse anything malformed here, in
    the event's transaction, rather than at the LRS later."""
    from ralph.models.xapi.base.agents import BaseXapiAgentWithAccount
    from ralph.models.xapi.base.ifi import BaseXapiAccount
    from ralph.models.xapi.base.statements import BaseXapiStatement
    from ralph.models.xapi.base.unnested_objects import BaseXapiActivity, BaseXapiActivityDefinition
    from ralph.models.xapi.base.verbs import BaseXapiVerb

    title = (activity.title or "").strip()[:TITLE_CHARS]
    model = BaseXapiStatement(
        id=statement_id,
        actor=BaseXapiAgentWithAccount(account=BaseXapiAccount(homePage=actor.home_page, name=actor.name)),
        verb=BaseXapiVerb(id=VERBS[verb], display={"en-US": verb}),
        object=BaseXapiActivity(
            id=base_url.rstrip("/") + activity.path,
            objectType="Activity",
            definition=BaseXapiActivityDefinition(
                type=activity.type, name={"en-US": title} if title else None
            ),
        ),
        timestamp=timestamp,
        **({"result": result} if result is not None else {}),  # Ralph refuses an explicit null
    )
    dumped = model.model_dump(exclude_none=True, exclude={"version"})
    return json.loads(json.dumps(dumped, default=_json_value))


def _json_value(value: object) -> object:
    # Pydantic writes a Decimal as a string; an xAPI score is a JSON number.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUIDs, URLs


def graded_result(score: float, *, passed: bool | None = None) -> BaseXapiResult:
    """A grade in 0..1 as an xAPI score (scaled and raw alike), and whether it passed."""
    from ralph.models.xapi.base.results import BaseXapiResult, BaseXapiResultScore

    value = Decimal(str(round(min(1.0, max(0.0, score)), 4)))
    return BaseXapiResult(
        score=BaseXapiResultScore(scaled=value, raw=value, min=Decimal(0), max=Decimal(1)),
        success=passed,
        completion=True,
    )


def grade_verbs(score: float) -> list[tuple[str, BaseXapiResult]]:
    """A graded answer: `answered` with its score, then `passed` and `completed`, or `failed`
    (the pass mark is the learner model's: a score counted as a correct attempt)."""
    passed = score >= CORRECT_AT
    verbs = [("answered", graded_result(score, passed=passed))]
    if passed:
        verbs += [
            ("passed", graded_result(score, passed=True)),
            ("completed", graded_result(score, passed=True)),
        ]
    else:
        verbs.append(("failed", graded_result(score, passed=False)))
    return verbs


def question_result(question: str, *, share_text: bool) -> BaseXapiResult | None:
    from ralph.models.xapi.base.results import BaseXapiResult

    text = question.strip()
    return BaseXapiResult(response=text) if share_text and text else None
