"""Splitting an instruction into clauses: at sequence words ("then", "然后", "."), and at
"and" or a comma only when a new action starts ("put the red cube in the tray and the
blue cube on the plate"), never inside a list ("the red, blue and green cubes") or a
pair of coordinates ("x 0.4, y -0.2")."""

from __future__ import annotations

from embodied_stack.planning.lexer import Token
from embodied_stack.planning.vocab import DEST_PREPS, NP_WORDS, W


def split_clauses(tokens: list[Token]) -> list[list[Token]]:
    content = [t for t in tokens if t.cls is not W.FILLER]
    clauses: list[list[Token]] = [[]]
    for i, tok in enumerate(content):
        current = clauses[-1]
        following = content[i + 1] if i + 1 < len(content) else None
        if _starts_clause(tok, current, following, content[i - 1] if i else None):
            clauses.append([])
            if tok.cls in (W.SEP, W.AND, W.COMMA):
                continue
        clauses[-1].append(tok)
    return [c for c in clauses if c]


def _starts_clause(
    tok: Token, current: list[Token], following: Token | None, previous: Token | None
) -> bool:
    if tok.cls is W.SEP:
        return True
    if tok.cls is W.COMMA:
        if _inside_coordinates(previous, following):
            return False
        return following is None or following.cls in (W.VERB, W.SEP) or _has_dest(current)
    if tok.cls is W.AND:
        if following is not None and following.cls in (W.VERB, W.SEP):
            return True
        return following is not None and _has_dest(current)
    if tok.cls is W.VERB:
        # a second verb after a complete action starts the next one (拿起方块放到托盘里)
        if tok.value == "set_down" and any(t.value == "put" for t in current):
            return False  # "put the red cube down": one action
        verbs = [t for t in current if t.cls is W.VERB]
        return bool(verbs) and any(t.cls in NP_WORDS for t in current)
    return False


def _inside_coordinates(previous: Token | None, following: Token | None) -> bool:
    before = previous is not None and previous.cls in (W.NUM, W.UNIT)
    return before and following is not None and following.cls in (W.NUM, W.AXIS)


def _has_dest(tokens: list[Token]) -> bool:
    """The clause already has a destination phrase or an arrow with a noun after it."""
    for i, tok in enumerate(tokens):
        if tok.cls is W.POST:
            return True
        if (tok.cls is W.PREP and tok.value in DEST_PREPS) or tok.cls is W.ARROW:
            nouns = [t for t in tokens[i + 1 :] if t.cls in NP_WORDS]
            if nouns and nouns[0].cls is not W.POS:
                return True
    return False
