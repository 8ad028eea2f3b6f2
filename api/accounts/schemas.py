"""What the two mail requests take and answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr


class AccountMailCreate(BaseModel):
    """The address to send a message to, if it has an account that may get one."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class AccountMailRead(BaseModel):
    """The same answer whether or not the address has an account."""

    status: Literal["accepted"] = "accepted"
