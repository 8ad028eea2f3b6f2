"""What the model is asked to fill for each generated exercise type: a JSON schema as strict as the
publish gate (core/exercises/rules.py), and how a filled answer becomes the ExerciseDraft the gate reads.

llama.cpp, Ollama (`format`) and OpenAI-compatible servers decode under the schema they are sent, so
what the schema allows is what a small model writes. A schema looser than the gate (every field
optional, `choices` and `tests` possibly empty) let the 135M model write drafts the gate could only
refuse ("needs 3 to 6 options, not 0", "needs a reference solution; needs tests"). Here the gate's
counting rules hold by construction:

- every text the gate needs is required and non-empty;
- multiple choice: the right answer and three wrong ones (`distractors`), so the answer is always
  one of four options (the learner sees them in an order of their own: rules.learner_order);
- coding: the solution, two to four visible examples and one hidden one, each a call and the value
  it returns; the tests' names and the starter code (the solution's signature with a body of
  `pass`) are mechanical, so they are made here rather than asked for;
- citations: only ids of the passages shown (an enum), so none can be invented.

What the schema cannot say stays the gate's: distinct options, a solution that passes its own
tests, a starter that fails them. A draft in ExerciseDraft's own shape (choices, tests, starter_code)
is read as it is, so a provider that ignores the schema is judged by the same gate.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

from pydantic import BaseModel, Field

from core.exercises.code_tests import CodeTest
from core.exercises.rules import ExerciseDraft

DISTRACTORS = 3
EXAMPLES = (2, 4)
HINTS = (1, 3)
SKILLS = (1, 3)
CITED = 3


def _text(most: int) -> dict[str, Any]:
    """A required text: not empty, and at most `most` characters, since a small model that is not
    stopped rambles inside a string until max_tokens cuts the JSON (llama.cpp compiles the bound)."""
    return {"type": "string", "minLength": 1, "maxLength": most}


PROMPT, OPTION, SHORT, CODE, CALL = _text(400), _text(160), _text(300), _text(1000), _text(120)
# A question, and one line: a multiple choice's stem asks something (the 135M model otherwise copies a
# passage's paragraph as the "question").
# The class leaves out the quote and the backslash itself: llama.cpp's grammar for a pattern is the
# pattern alone, so a class that admits `"` lets the model close the string and write on.
QUESTION: dict[str, Any] = {"type": "string", "pattern": r'^[^"\\\n?]{10,300}[?]$'}


def _list(items: dict[str, Any], low: int, high: int) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": low, "maxItems": high}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    # Every property required, in the order the model should write them (llama.cpp's grammar keeps it).
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_CALL = _object({"call": CALL, "expected": CALL})


def draft_schema(exercise_type: str, *, passage_ids: list[int]) -> dict[str, Any]:
    """The JSON schema a generated draft of `exercise_type` is decoded under."""
    if exercise_type == "multiple_choice":
        body = {
            "prompt": QUESTION,
            "answer": OPTION,
            "distractors": _list(OPTION, DISTRACTORS, DISTRACTORS),
            "rubric": SHORT,
        }
    elif exercise_type == "coding":
        body = {
            "prompt": PROMPT,
            "solution_code": CODE,
            "examples": _list(_CALL, *EXAMPLES),
            "hidden_example": _CALL,
        }
    elif exercise_type == "qa":
        body = {"prompt": PROMPT, "answer": SHORT, "rubric": SHORT}
    else:
        raise ValueError(f"{exercise_type!r} is never generated")
    cited = (
        _list({"type": "integer", "enum": sorted(set(passage_ids))}, 0, min(CITED, len(set(passage_ids))))
        if passage_ids
        else {"type": "array", "items": {"type": "integer"}, "maxItems": 0}
    )
    return _object(
        body | {"hints": _list(OPTION, *HINTS), "skills": _list(_text(40), *SKILLS), "cited_chunk_ids": cited}
    )


class Example(BaseModel):
    call: str = Field(min_length=1, max_length=4000)
    expected: str = Field(min_length=1, max_length=4000)


class GeneratedDraft(ExerciseDraft):
    """A model's answer: ExerciseDraft's fields plus the schema's own (distractors, examples)."""

    distractors: list[str] = Field(default_factory=list, max_length=5)
    examples: list[Example] = Field(default_factory=list, max_length=5)
    hidden_example: Example | None = None

    def as_draft(self) -> ExerciseDraft:
        """The draft the gate reads. Raises ValueError (a test that is not a call of a literal) for
        the structured-output retry to quote back to the model."""
        fields = self.model_dump(exclude={"distractors", "examples", "hidden_example"})
        if self.distractors and not self.choices:
            fields["choices"] = [self.answer or "", *self.distractors]
        if (self.examples or self.hidden_example) and not self.tests:
            fields["tests"] = [
                CodeTest(name=f"example {number}", call=e.call, expected=e.expected, hidden=False)
                for number, e in enumerate(self.examples, start=1)
            ]
            if self.hidden_example is not None:
                hidden = self.hidden_example
                fields["tests"].append(
                    CodeTest(name="hidden example", call=hidden.call, expected=hidden.expected, hidden=True)
                )
        if self.solution_code and not self.starter_code:
            fields["starter_code"] = starter_from(self.solution_code)
        return ExerciseDraft.model_validate(fields)


def read_draft(data: Any) -> ExerciseDraft:
    """The validator chat_structured runs on the model's JSON."""
    return GeneratedDraft.model_validate(data).as_draft()


def starter_from(solution: str) -> str | None:
    """The first function of `solution` with its signature and a body of `pass`; None when the
    solution defines none (the sandbox check then refuses the draft)."""
    try:
        tree = ast.parse(solution)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            stub = copy.copy(node)
            stub.body, stub.decorator_list = [ast.Pass()], []
            return ast.unparse(ast.fix_missing_locations(ast.Module(body=[stub], type_ignores=[]))) + "\n"
    return None
