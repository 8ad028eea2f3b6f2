"""POST /auth/request-verify-token and /auth/forgot-password: a message with a link, by e-mail.

The token checks (`/auth/verify`, `/auth/reset-password`) are fastapi-users' own routes (api/main.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from api.accounts import service
from api.accounts.schemas import AccountMailCreate, AccountMailRead
from api.openapi import problems
from api.shared import SessionDep
from db.account_mail import RESET, VERIFY

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/request-verify-token", status_code=status.HTTP_202_ACCEPTED, responses=problems(429))
async def request_verify_token(
    body: AccountMailCreate, request: Request, session: SessionDep
) -> AccountMailRead:
    """E-mail a link that confirms the address (if it has an account not yet verified)."""
    await service.request_mail(session, kind=VERIFY, email=body.email, client=_client(request))
    return AccountMailRead()


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED, responses=problems(429))
async def forgot_password(body: AccountMailCreate, request: Request, session: SessionDep) -> AccountMailRead:
    """E-mail a link that sets a new password (if the address has an active account)."""
    await service.request_mail(session, kind=RESET, email=body.email, client=_client(request))
    return AccountMailRead()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
