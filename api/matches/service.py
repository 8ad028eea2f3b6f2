"""Targets and matches: create them (a `match` job per match), read a match as its detail (the one
view the JSON, the Markdown and PDF reports and the console show), delete them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.service import job_read
from api.matches.schemas import (
    Evidence,
    MatchCreate,
    MatchCreated,
    MatchDetail,
    MatchSummary,
    PlanItem,
    PlanJob,
    RequirementResult,
    ScorePoint,
    TargetCreate,
    TargetRead,
)
from api.quotas import check_job_quota
from api.shared import Upload, check_person_source, open_session_for, parse_id
from core.matches import clean
from core.matches.scoring import WEIGHTS
from core.settings import get_settings
from db import attachments, matches
from db import documents as document_queries
from db.jobs import create_job
from db.models import Job, Match, Profile, Target, User
from db.unit_of_work import commit_async
from tasks.exercise.spec import ExerciseOutput
from tasks.match.spec import SPEC as MATCH
from tasks.resources.spec import ResourcesOutput

HOW_SCORED = (
    "Each requirement earns a credit: 1 when met (the candidate's skill at the required level or above, "
    "or a mastery of at least {threshold:.0%}), 0.5 when partly met (the skill below that level, or a "
    "mastery of at least 50%), 0 otherwise. The score is the weighted mean credit, as a percentage: a "
    "must-have weighs {must}, a nice-to-have {nice}. Computed by code; the model only lists the "
    "requirements, each with a quote checked against the target."
)

# --- targets ------------------------------------------------------------------------------------


def target_read(target: Target) -> TargetRead:
    return TargetRead(
        id=target.id,
        title=target.title,
        chars=len(target.text),
        source_document_id=target.source_document_id,
        requirements=target.requirements,
        created_at=target.created_at,
    )


async def create_target(session: AsyncSession, *, user: User, body: TargetCreate) -> Target:
    """A target of the caller's from text or a document they can read (its text copied now)."""
    source_document_id = None
    if body.text is not None:
        text = body.text
        title = body.title or _first_line(text)
    else:
        collections = await document_queries.visible_collections(session, user_id=user.id)
        document = await document_queries.get_document(
            session, document_id=body.document_id, collection_ids=[c.id for c in collections]
        )
        if document is None:
            raise ProblemError(404, "document_not_found", "no document with that id in your library")
        if not document.active_generation:
            raise ProblemError(
                409, "document_not_ready", "the document is not ingested yet; retry when it is"
            )
        text = clean.lines(
            await session.run_sync(lambda sync: matches.document_text(sync, document=document))
        )
        title = body.title or clean.one_line(document.title) or "Untitled target"
        source_document_id = document.id
    limit = get_settings().max_target_chars
    if len(text) > limit:
        raise ProblemError(
            413, "target_too_large", f"a target is at most {limit} characters; this one has {len(text)}"
        )
    if not text.strip():
        raise ProblemError(422, "empty_target", "the target has no text")
    return await session.run_sync(
        lambda sync: matches.create_target(
            sync, owner_id=user.id, title=title[:200], text=text, source_document_id=source_document_id
        )
    )


async def add_target(session: AsyncSession, *, user: User, body: TargetCreate) -> TargetRead:
    target = await create_target(session, user=user, body=body)
    await commit_async(session)
    return target_read(target)


def _first_line(text: str) -> str:
    line = next((line.strip(" #\t") for line in text.splitlines() if line.strip(" #\t")), "")
    return line[:120] or "Untitled target"


async def owned_target(session: AsyncSession, *, user: User, target_id: str | uuid.UUID) -> Target:
    parsed = parse_id(target_id, code="target_not_found", detail="no target with that id")
    target = await session.run_sync(
        lambda sync: matches.owned_target(sync, target_id=parsed, owner_id=user.id)
    )
    if target is None:
        raise ProblemError(404, "target_not_found", "no target with that id")
    return target


async def list_targets(session: AsyncSession, *, user: User) -> list[TargetRead]:
    targets = await session.run_sync(lambda sync: matches.list_targets(sync, owner_id=user.id))
    return [target_read(t) for t in targets]


async def delete_target(session: AsyncSession, *, user: User, target_id: str) -> None:
    """The target and every match against it."""
    target = await owned_target(session, user=user, target_id=target_id)
    await session.run_sync(lambda sync: matches.delete_target(sync, target=target))
    await commit_async(session)


# --- matches ------------------------------------------------------------------------------------


async def create_match(
    session: AsyncSession, *, user: User, body: MatchCreate, cv: Upload | None
) -> MatchCreated:
    """A match row and its `match` job (the CV, if any, its attachment), committed together."""
    if cv is not None:
        check_person_source(cv, what="CV")
    if body.target is not None:
        target = await create_target(session, user=user, body=body.target)
    else:
        target = await owned_target(session, user=user, target_id=body.target_id)
    session_id = await open_session_for(session, user=user, session_id=body.session_id)
    await check_job_quota(session, user=user)
    match_id = uuid.uuid4()

    def work(sync) -> Job:
        job = create_job(
            sync, MATCH, input={"match_id": str(match_id)}, owner_id=user.id, session_id=session_id
        )
        sync.flush()  # the match row points at its job
        matches.create_match(
            sync,
            match_id=match_id,
            owner_id=user.id,
            target_id=target.id,
            job_id=job.id,
            candidate_kind="cv" if cv is not None else "profile",
        )
        if cv is not None:
            attachments.attach(
                sync, job_id=job.id, content=cv.content, filename=cv.filename, content_type=cv.content_type
            )
        return job

    job = await session.run_sync(work)
    await commit_async(session)
    return MatchCreated(id=match_id, target_id=target.id, job=job_read(job))


async def _owned_match(session: AsyncSession, *, user: User | None, match_id: str | uuid.UUID) -> Match:
    parsed = parse_id(match_id, code="match_not_found", detail="no match with that id")
    owner = user.id if user is not None else None
    match = await session.run_sync(lambda sync: matches.owned_match(sync, match_id=parsed, owner_id=owner))
    if match is None:
        raise ProblemError(404, "match_not_found", "no match with that id")
    return match


async def list_matches(session: AsyncSession, *, user: User) -> list[MatchSummary]:
    rows = await session.run_sync(lambda sync: matches.list_matches(sync, owner_id=user.id))
    statuses = await _jobs_by_id(session, [m.job_id for m, _ in rows])
    return [_summary(match, target, statuses.get(match.job_id)) for match, target in rows]


async def _jobs_by_id(session: AsyncSession, job_ids: list[uuid.UUID | None]) -> dict[uuid.UUID, Job]:
    ids = [job_id for job_id in job_ids if job_id is not None]
    if not ids:
        return {}
    return {job.id: job for job in (await session.execute(select(Job).where(Job.id.in_(ids)))).scalars()}


def _summary(match: Match, target: Target, job: Job | None) -> MatchSummary:
    return MatchSummary(
        id=match.id,
        target_id=target.id,
        target_title=target.title,
        candidate=match.candidate_kind,
        status=job.status if job is not None else ("succeeded" if match.breakdown is not None else "unknown"),
        score=match.score,
        created_at=match.created_at,
        updated_at=match.updated_at,
    )


async def match_detail(session: AsyncSession, *, user: User | None, match_id: str | uuid.UUID) -> MatchDetail:
    """The match as every reader shows it (`user` None: an admin's read-only view of anyone's)."""
    match = await _owned_match(session, user=user, match_id=match_id)
    target = await session.get(Target, match.target_id)
    gaps = await session.run_sync(lambda sync: matches.gaps(sync, match_id=match.id))
    history = await session.run_sync(lambda sync: matches.history(sync, match_id=match.id))
    plan_job_ids = [i for gap in gaps for i in (gap.resources_job_id, gap.exercise_job_id)]
    jobs = await _jobs_by_id(session, [match.job_id, *plan_job_ids])
    job = jobs.get(match.job_id)
    requirements = [_requirement(index, entry) for index, entry in enumerate(match.breakdown or [])]
    by_index = {r.index: r for r in requirements}
    settings = get_settings()
    learner = (
        await session.execute(
            select(func.coalesce(Profile.display_name, Profile.username)).where(
                Profile.user_id == match.owner_id
            )
        )
    ).scalar_one_or_none()
    return MatchDetail(
        **_summary(match, target, job).model_dump(),
        learner=learner,
        job_id=match.job_id,
        error=job.error if job is not None and job.status == "failed" else None,
        how_scored=HOW_SCORED.format(
            threshold=settings.match_mastery_threshold, must=WEIGHTS["must"], nice=WEIGHTS["nice"]
        ),
        requirements=requirements,
        strengths=[r for r in requirements if r.status == "met"],
        gaps=[r for r in requirements if r.status != "met"],
        plan=[
            PlanItem(
                requirement=gap.requirement,
                skill=gap.skill,
                importance=by_index[gap.requirement].importance,
                closed=gap.closed_at is not None,
                closed_at=gap.closed_at,
                recommendation=_recommendation(by_index[gap.requirement], gap.resources_job_id is not None),
                resources_job=_plan_job(jobs, gap.resources_job_id, _resources_result),
                exercise_job=_plan_job(jobs, gap.exercise_job_id, _exercise_result),
            )
            for gap in gaps
            if gap.requirement in by_index
        ],
        history=[
            ScorePoint(score=p.score, reason=p.reason, closed_gaps=p.closed_gaps, at=p.created_at)
            for p in history
        ],
    )


def _requirement(index: int, entry: dict[str, Any]) -> RequirementResult:
    return RequirementResult(
        index=index,
        skill=entry["skill"],
        level=entry.get("level"),
        importance=entry["importance"],
        weight=entry["weight"],
        status=entry["status"],
        credit=entry["credit"],
        because=entry["because"],
        evidence=Evidence(
            target_quote=entry["quote"], candidate=entry.get("candidate_skill"), mastery=entry.get("mastery")
        ),
        corrected=entry.get("corrected") or [],
    )


def _recommendation(requirement: RequirementResult, planned: bool) -> str:
    """Written by code from the breakdown, so it can only say what the figures say."""
    need = "Required" if requirement.importance == "must" else "Nice to have"
    level = f" at {requirement.level} level" if requirement.level else ""
    candidate = requirement.evidence.candidate
    mastery = requirement.evidence.mastery
    if candidate and candidate.get("level"):
        now = f"you show it at {candidate['level']} level"
    elif candidate:
        now = "you list it without a level"
    elif mastery:
        now = f"your mastery is {mastery['p_known']:.0%}"
    else:
        now = "you have not shown it yet"
    then = " Study the resources and try the exercise planned for it." if planned else ""
    return f"{need}: {requirement.skill}{level}; {now}.{then}"


def _plan_job(jobs: dict[uuid.UUID, Job], job_id: uuid.UUID | None, read) -> PlanJob | None:
    if job_id is None:
        return None
    job = jobs.get(job_id)
    if job is None:
        return PlanJob(job_id=job_id, status=None, result=None)
    result = read(job.output) if job.status == "succeeded" and job.output else None
    return PlanJob(job_id=job_id, status=job.status, result=result)


def _resources_result(output: dict[str, Any]) -> dict[str, Any]:
    picks = ResourcesOutput.model_validate(output).resources
    return {"documents": [{"document_id": str(r.document_id), "title": r.title, "url": r.url} for r in picks]}


def _exercise_result(output: dict[str, Any]) -> dict[str, Any]:
    exercise = ExerciseOutput.model_validate(output)
    return {"exercise_id": str(exercise.exercise_id), "title": exercise.title, "topic": exercise.topic}


async def delete_match(session: AsyncSession, *, user: User, match_id: str) -> None:
    match = await _owned_match(session, user=user, match_id=match_id)
    await session.run_sync(lambda sync: matches.delete_match(sync, match=match))
    await commit_async(session)


async def admin_matches(session: AsyncSession) -> list[tuple[MatchSummary, str]]:
    """Every match with its owner's e-mail, for the console (read only)."""
    rows = await session.run_sync(lambda sync: matches.matches_per_user(sync))
    statuses = await _jobs_by_id(session, [m.job_id for m, _, _ in rows])
    return [(_summary(match, target, statuses.get(match.job_id)), email) for match, target, email in rows]
