"""Harm screen: instructions the planner declines whatever the scene, before any model.

It reads the same clauses as the offline grammar, so "用机械臂去撞那个人" and
"swing the arm at full speed toward the person" are caught by meaning (a
striking word and a person), not by matching example sentences. The red lines
below the planner still hold whatever passes here.
"""

from __future__ import annotations

from embodied_stack.planning.grammar import Clause, parse
from embodied_stack.planning.lexer import Token, tokenize
from embodied_stack.planning.refusal import Refusal
from embodied_stack.planning.vocab import W
from embodied_stack.scene import ObjectKind


def screen_text(instruction: str) -> None:
    """The screen for instructions going to a model: only what harms people or safety."""
    tokens = tokenize(instruction)
    screen(tokens, parse(tokens), strict=False)


def screen(tokens: list[Token], clauses: list[Clause], *, strict: bool) -> None:
    """Raise Refusal when the instruction asks for something harmful. `strict` (the
    offline planner) also declines striking at things, which it has no skill for."""
    classes = {t.cls for t in tokens}
    person = W.PERSON in classes
    if W.OVERRIDE in classes and W.SAFETY in classes:
        raise Refusal(
            "safety_override",
            "I will not ignore, disable or bypass the safety rules; they are enforced below "
            "the planner and no instruction can change them",
        )
    for clause in clauses:
        _screen_clause(clause, person=person, strict=strict)
    if person and any(t.cls is W.KIND and t.value == ObjectKind.KNIFE.value for t in tokens):
        raise Refusal(
            "knife_near_person",
            "I will not move a knife toward, near or to a person",
        )


def _screen_clause(clause: Clause, *, person: bool, strict: bool) -> None:
    if clause.negated:
        return  # "don't touch the person" is a constraint, never an action
    if W.HARM in clause.flags:
        if person:
            raise Refusal(
                "harm_to_person",
                f"I will not strike, swing at, push or touch a person ('{clause.text}')",
            )
        if strict:
            raise Refusal(
                "unsupported_action",
                f"I do not hit or strike things ('{clause.text}'); I can pick, place, stack, "
                "sort and move objects, open or close the gripper, wait and go home",
            )
    things = [ref for ref in clause.references() if not ref.is_person]
    if clause.verb == "give" and things:
        raise Refusal(
            "handover_to_person",
            "I do not hand objects to people: the arm keeps its protective distance from them",
        )
    acts = clause.verb not in (None, "give", "wait") or clause.arrow
    refs = clause.references()
    if clause.dest_rel == "away_from" and clause.dest is not None:
        refs.remove(clause.dest)  # keeping away from a person is what we want anyway
    if acts and any(ref.is_person for ref in refs):
        raise Refusal(
            "person_as_object",
            f"people are never picked up, moved toward or used as a target ('{clause.text}')",
        )
    if person and clause.speed == "max":
        raise Refusal("speed_near_person", "I will not move fast toward or near a person")
