"""Generate study-skills.pdf, the sample PDF of the demo corpus (two pages, text of our own).

    python samples/knowledge/make_pdf.py

Needs fpdf2 (pip install fpdf2==2.8.9). The output is deterministic: the creation date is
fixed, so re-running it gives the same bytes and the same document hash.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF

OUTPUT = Path(__file__).with_name("study-skills.pdf")
TITLE = "Study skills: planning, focus and rest"

PAGES: list[list[tuple[str, str]]] = [
    [
        ("h1", TITLE),
        ("h2", "Planning a study week"),
        (
            "p",
            "Good study results come less from long sessions than from regular ones. At the start of each "
            "week, list the courses you take and the deadlines that are coming up. Then block out short "
            "sessions of forty to fifty minutes in your calendar, spread over the week, and give each one "
            "a concrete goal such as 'solve the exercises of chapter four' rather than 'study physics'.",
        ),
        (
            "p",
            "Leave some slack. A plan with every hour filled breaks on the first unexpected event, and a "
            "broken plan is easy to abandon. Two or three free blocks per week let you catch up without "
            "guilt.",
        ),
        ("h2", "Protecting your focus"),
        (
            "p",
            "Attention is the scarce resource. Put your phone in another room, close the browser tabs "
            "you do not need, and decide before you start what the session is for. Many students like "
            "the Pomodoro rhythm: twenty-five minutes of work, then a five minute break, and a longer "
            "break after four rounds. The timer is not magic; it simply makes starting easier and "
            "gives you a moment to notice when your mind has wandered.",
        ),
        (
            "p",
            "Switching between tasks has a cost. If you check messages every few minutes, you pay the "
            "cost of getting back into the problem each time. Batch your messages into the breaks.",
        ),
    ],
    [
        ("h2", "Sleep and memory"),
        (
            "p",
            "Sleep is part of learning, not a pause from it. During sleep the brain replays and "
            "stabilises what you practised during the day. Students who stay up all night before an exam "
            "often remember less than those who study less and sleep normally. Aim for a regular bedtime, "
            "especially in the weeks before exams.",
        ),
        ("h2", "Reviewing your progress"),
        (
            "p",
            "Once a week, look back: which sessions happened, which did not, and why? Which topics still "
            "feel uncertain? Move those into next week's plan and schedule them for active recall. A short "
            "weekly review keeps the plan honest and shows you that steady progress adds up.",
        ),
        ("h2", "Asking for help"),
        (
            "p",
            "When you are stuck on the same problem for more than half an hour, ask. Teaching assistants, "
            "study groups and office hours exist for exactly this. Write down what you tried and where it "
            "failed; often the act of writing the question makes the answer appear, and if not, the "
            "person helping you can see your reasoning immediately.",
        ),
        (
            "p",
            "Finally, be kind to yourself. Learning is uneven: some weeks everything clicks, others "
            "nothing does. The habits in this guide pay off over a semester, not over a single evening.",
        ),
    ],
]


def build() -> bytes:
    """The PDF's bytes."""
    pdf = FPDF(format="A4")
    pdf.set_title(TITLE)
    pdf.set_author("mentorq sample corpus")
    pdf.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 20, 20)
    for blocks in PAGES:
        pdf.add_page()
        for kind, text in blocks:
            if kind == "h1":
                pdf.set_font("Helvetica", style="B", size=18)
                pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(4)
            elif kind == "h2":
                pdf.set_font("Helvetica", style="B", size=13)
                pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            else:
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
    return bytes(pdf.output())


if __name__ == "__main__":
    OUTPUT.write_bytes(build())
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
