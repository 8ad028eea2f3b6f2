"""What the embedded 135M model gives a learner, through the platform, over the demo's questions,
tutor turns and exercise topics, for several seeds: the share of grounded answers whose every
sentence a passage supports, of tutor turns answered from the library, and of exercise drafts that
pass the publish gate. The two answer styles (MENTORQ_GENERATION_STYLE: `written`, the model writes the
answer, as before issue 49; `extractive`, it picks passage sentences) run side by side on one stack.

    python -m benchmarks.embedded_model [--seeds 0 1 2]

One throwaway stack (embedded PostgreSQL and Redis, the local model), the bundled samples ingested
once; per seed and style the workers restart with MENTORQ_LLM_SEED and MENTORQ_GENERATION_STYLE set, and
the answer cache is off, so every answer is generated. About 3 minutes per seed and style here.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from devstack.supervisor import free_port, start_stack
from mentorq.client import MentorqClient
from mentorq.demo import ASK_QUESTION, DEMO_EMAIL, RECORDING_QUESTION, Demo, Shown, make_admin

STYLES = ("written", "extractive")
PER_RUN_S = 1800.0  # a generous bound on one seed and style: the jobs queue behind the workers restarting


def measure(demo: Demo) -> Shown:
    """The demo's questions, tutor turns and exercises once, counted."""
    demo.shown = Shown()
    for question in (ASK_QUESTION, RECORDING_QUESTION):
        demo.ask(question)
    demo.tutor()
    demo.exercises()
    return demo.shown


def restart_workers(stack, env: dict[str, str]) -> None:
    """Every worker again under `env` (queued jobs wait in Redis meanwhile)."""
    stack.env.update(env)
    for child in stack.children:
        if child.name.startswith("worker"):
            child.stop()
            child.start(stack.env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES))
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="mentorq-bench-"))
    quiet = lambda line: None  # noqa: E731
    stack = start_stack(
        folder,
        api_port=free_port(),
        flower_port=None,
        extra_env={"MENTORQ_ANSWER_CACHE_TTL_DAYS": "0"},
        say=quiet,
    )
    results: dict[tuple[str, int], Shown] = {}
    try:
        password = secrets.token_urlsafe(16)
        demo = Demo(stack.api_url, quiet, database_url=stack.database_url)
        with MentorqClient(stack.api_url) as client:
            demo.client = client
            client.register(DEMO_EMAIL, password)
            make_admin(stack.database_url, DEMO_EMAIL)
            client.login(DEMO_EMAIL, password)
            demo.ingest_and_search()
            for style in args.styles:
                for seed in args.seeds:
                    restart_workers(stack, {"MENTORQ_GENERATION_STYLE": style, "MENTORQ_LLM_SEED": str(seed)})
                    demo.deadline = time.monotonic() + PER_RUN_S
                    results[style, seed] = shown = measure(demo)
                    print(f"{style:<10} seed {seed}: {_line(shown)}", flush=True)
    finally:
        stack.stop(quiet)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\nover seeds {args.seeds} (the demo's 2 questions, 2 tutor turns, 2 exercise topics each):")
    columns = ("supported answers", 18), ("tutor answered", 15), ("drafts passed", 14), ("exercises", 10)
    print(f"{'style':<10} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for style in args.styles:
        runs = [results[style, seed] for seed in args.seeds]
        total = Shown(*(sum(getattr(run, name) for run in runs) for name in Shown.__dataclass_fields__))
        print(
            f"{style:<10} {_share(total.supported_answers, total.answers):>18} "
            f"{_share(total.tutor_answered, total.tutor_turns):>15} "
            f"{_share(total.exercises_published, total.drafts):>14} "
            f"{_share(total.exercises_published, total.exercises):>10}"
        )
        every = all(r.supported_answers and r.tutor_answered and r.exercises_published for r in runs)
        print(
            f"{'':<10} every seed shows a supported answer, a tutor answer and a published exercise: {every}"
        )
    return 0


def _line(shown: Shown) -> str:
    return (
        f"answers supported {shown.supported_answers}/{shown.answers}, tutor answered "
        f"{shown.tutor_answered}/{shown.tutor_turns}, "
        f"drafts passed {shown.exercises_published}/{shown.drafts}, "
        f"exercises published {shown.exercises_published}/{shown.exercises}"
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.2f})" if whole else "—"


if __name__ == "__main__":
    raise SystemExit(main())
