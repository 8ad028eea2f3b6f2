"""Whose numbers a voice profile holds: each diarization engine embeds its speakers with one voice
encoder, and a profile names a recording's speakers only when it was embedded by the same one
(another encoder's embedding is another model's numbers: never compared). A profile of another
encoder than the deployment's diarizer uses needs its person enrolled again."""

from __future__ import annotations

# The engines whose speakers can be named, by the encoder they embed with (pyannote and off: none).
ENCODERS = {"resemblyzer": "resemblyzer", "campplus": "campplus"}
NEEDS_REENROLMENT = "voice_profile_needs_reenrolment"


def encoder_of(engine: str) -> str | None:
    """The voice encoder a diarization engine's speakers are embedded with; None for one that names
    no one."""
    return ENCODERS.get(engine)


def reenrolment(encoder: str, engine: str) -> dict[str, str] | None:
    """`{code, message}` when a profile of `encoder` cannot name the speakers `engine` finds (its
    person must be enrolled again), else None."""
    active = encoder_of(engine)
    if active is None or encoder == active:
        return None
    return {
        "code": NEEDS_REENROLMENT,
        "message": (
            f"this profile holds {encoder} embeddings and recordings are diarized with {active}: it "
            "names no one until its person is enrolled again"
        ),
    }
