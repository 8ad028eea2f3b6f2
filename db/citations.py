"""Stored citations looked up again: is the cited chunk still what the search returns, did its
document's re-ingestion move the quoted text to a new chunk, or is it gone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def resolve(session: AsyncSession, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each citation as {status: current|moved|removed, original_chunk_id?, citation}."""
    if not citations:
        return []
    ids = [int(c["chunk_id"]) for c in citations]
    current = set(
        (
            await session.execute(
                text(
                    """
                    SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
                    WHERE c.id = ANY(:ids) AND c.generation = d.active_generation
                    """
                ),
                {"ids": ids},
            )
        ).scalars()
    )
    resolved = []
    for citation in citations:
        if int(citation["chunk_id"]) in current:
            resolved.append({"status": "current", "citation": citation})
            continue
        moved_to = await _chunk_holding_quote(session, citation)
        if moved_to is None:
            resolved.append({"status": "removed", "citation": citation})
        else:
            resolved.append(
                {
                    "status": "moved",
                    "original_chunk_id": citation["chunk_id"],
                    "citation": citation | {"chunk_id": moved_to},
                }
            )
    return resolved


async def _chunk_holding_quote(session: AsyncSession, citation: dict[str, Any]) -> int | None:
    quote = str(citation.get("quote") or "").rstrip("…").strip()
    if len(quote) < 10:
        return None
    return (
        await session.execute(
            text(
                """
                SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE d.id = CAST(:document AS uuid) AND c.generation = d.active_generation
                  AND strpos(c.text, :quote) > 0
                ORDER BY c.position LIMIT 1
                """
            ),
            {"document": str(citation["document_id"]), "quote": quote},
        )
    ).scalar_one_or_none()
