"""Summary of a study's votes: % preferring each folder with a 95% Wilson interval."""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import wilson_ci
from .store import VoteStore


@dataclass
class StudySummary:
    label_a: str
    label_b: str
    questions: int          # questions in the study
    answered_questions: int  # questions with at least one vote
    respondents: int
    answers: int
    prefer_a: int
    per_question: dict[str, tuple[int, int]]  # question -> (votes for a, votes for b)

    def share(self, side: str, level: float = 0.95) -> tuple[float, float, float]:
        """(proportion, low, high) of answers preferring ``side`` ('a' or 'b')."""
        k = self.prefer_a if side == "a" else self.answers - self.prefer_a
        if self.answers == 0:
            return float("nan"), float("nan"), float("nan")
        lo, hi = wilson_ci(k, self.answers, level)
        return k / self.answers, lo, hi


def summarize(store: VoteStore) -> StudySummary:
    meta = store.meta()
    votes = store.votes()
    per: dict[str, list[int]] = {}
    for _, question, choice, _ in votes:
        per.setdefault(question, [0, 0])[0 if choice == "a" else 1] += 1
    return StudySummary(
        label_a=meta.get("label_a", "A"), label_b=meta.get("label_b", "B"),
        questions=int(meta.get("questions", len(per))), answered_questions=len(per),
        respondents=len({v[0] for v in votes}), answers=len(votes),
        prefer_a=sum(1 for v in votes if v[2] == "a"),
        per_question={q: (a, b) for q, (a, b) in sorted(per.items())},
    )


def format_summary(s: StudySummary) -> str:
    lines = [f"questions:   {s.questions} ({s.answered_questions} answered)",
             f"respondents: {s.respondents}",
             f"answers:     {s.answers}"]
    for side, label in (("a", s.label_a), ("b", s.label_b)):
        p, lo, hi = s.share(side)
        text = "n/a" if s.answers == 0 else f"{p:.1%} (95% CI {lo:.1%} - {hi:.1%})"
        lines.append(f"prefer {side.upper()} ({label}): {text}")
    if s.per_question:
        lines.append("per question (A / B votes):")
        lines += [f"  {q}: {a} / {b}" for q, (a, b) in s.per_question.items()]
    return "\n".join(lines)
