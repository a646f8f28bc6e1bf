"""The offline planner's grammar: tokens -> clauses -> roles.

An instruction is split into clauses (splitter.py); each clause is read as noun
phrases, each with the preposition before it (English) or the locative after
it (Chinese: 托盘里), and the phrases get roles: theme (what is moved),
destination, source. Everything else (politeness, unknown words) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embodied_stack.planning.lexer import Token
from embodied_stack.planning.references import Reference, Relation
from embodied_stack.planning.splitter import split_clauses
from embodied_stack.planning.vocab import COLOR_BY_NAME, DEST_PREPS, NP_WORDS, W
from embodied_stack.scene import ObjectKind

# a put-like verb may also put a thing beside another ("to the left of the tray")
BESIDE_PREPS = DEST_PREPS | {"left_of", "right_of", "nearest_to", "middle_of", "away_from"}
# "<position word> of/to/from X" relates the noun before it to X
RELATIVE_PREPS = frozenset({"of", "to", "from"})
RELATIVE = {"left": "left_of", "right": "right_of", "nearest": "nearest_to"}
RELATIVE |= {"farthest": "farthest_from", "top": "on", "middle": "middle_of"}
# after a "pick"-like verb, only "to" makes a destination ("take it to the tray")
PICK_DEST_PREPS = frozenset({"to", "into", "onto"})


@dataclass
class Phrase:
    prep: str | None = None
    ref: Reference = field(default_factory=Reference)
    post: str | None = None
    ba: bool = False
    conj: bool = False  # joined to the previous phrase by "and"

    @property
    def rel(self) -> str | None:
        rel = self.post or self.prep
        return {"into": "in", "onto": "on"}.get(rel, rel) if rel else None


@dataclass
class Clause:
    tokens: list[Token]
    verb: str | None = None
    themes: list[Reference] = field(default_factory=list)
    dest: Reference | None = None
    dest_rel: str | None = None
    source: Reference | None = None
    numbers: list[tuple[str | None, float]] = field(default_factory=list)  # (axis, metres)
    offsets: list[tuple[str, float]] = field(default_factory=list)  # (direction, metres)
    flags: set[W] = field(default_factory=set)
    speed: str | None = None
    by_color: bool = False
    direction: str | None = None  # a position word used as a direction of motion
    on_top: bool = False  # ends in "on top" / "on": onto whatever was stacked last
    chain: list[Reference] = field(default_factory=list)  # stacked between theme and dest
    home: bool = False
    arrow: bool = False
    unknown: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)

    @property
    def negated(self) -> bool:
        return W.NEG in self.flags

    def references(self) -> list[Reference]:
        refs = [*self.themes, *([self.dest] if self.dest else [])]
        return refs + ([self.source] if self.source else [])


# ---- reading one clause -------------------------------------------------------------------


def parse_clause(tokens: list[Token]) -> Clause:
    clause = Clause(tokens=tokens)
    phrases = _phrases(tokens, clause)
    last = phrases[-1]
    clause.on_top = last.prep in ("on", "onto") and not last.ref.has_content()  # "... on top"
    _assign_roles(clause, [p for p in phrases if p.ref.has_content() or p.ref.relation])
    return clause


def _phrases(tokens: list[Token], clause: Clause) -> list[Phrase]:
    phrases = [Phrase()]
    i = 0
    while i < len(tokens):
        i = _read(tokens, i, phrases, clause)
    return phrases


def _read(tokens: list[Token], i: int, phrases: list[Phrase], clause: Clause) -> int:
    """Read the token at i into the phrases or the clause; the index of the next token."""
    tok = tokens[i]
    if tok.cls is W.NUM:
        return _read_number(tokens, i, clause)
    if tok.cls in (W.PREP, W.ARROW):
        return _read_prep(tokens, i, phrases, clause)
    if tok.cls is W.POST:
        return _read_post(tokens, i, phrases)
    if tok.cls is W.DE:
        return _read_de(tokens, i, phrases)
    current = phrases[-1]
    if tok.cls is W.BA:
        phrases.append(Phrase(ba=True))
    elif tok.cls is W.AND:
        if current.ref.kinds is not None or current.ref.ids or current.ref.pronoun:
            phrases.append(Phrase(prep=current.prep, ba=current.ba, conj=True))
    elif tok.cls is W.VERB:
        # "go pick up ...": the second verb says what; "put the red cube down": set it down
        put_down = tok.value == "set_down" and clause.verb == "put"
        if clause.verb in (None, "move") or put_down:
            clause.verb = tok.value
        if current.ref.has_content() or current.prep:
            phrases.append(Phrase())
    elif tok.cls is W.POS and _is_direction(tokens, i):
        clause.direction = tok.value  # "向左移动10厘米", "move it left by 10 cm"
    elif tok.cls in NP_WORDS:
        if _new_noun(current.ref, tok):  # "hand me the cube": two nouns side by side
            phrases.append(Phrase())
        _add_to_reference(phrases[-1].ref, tok)
    else:
        _note(clause, tok)
    return i + 1


def _read_prep(tokens: list[Token], i: int, phrases: list[Phrase], clause: Clause) -> int:
    tok, current = tokens[i], phrases[-1]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    prev = tokens[i - 1] if i else None
    if nxt is not None and nxt.cls is W.POS and _ends_noun(tokens, i + 1):
        return i + 1  # "on the left", "in the middle": the position word joins the noun
    if tok.value == "by" and nxt is not None and nxt.cls is W.ATTR:
        clause.by_color = True
        return i + 2
    relative = prev is not None and prev.cls is W.POS and tok.value in RELATIVE_PREPS
    if relative and (nxt is None or nxt.cls not in NP_WORDS):
        return i + 1 if nxt is None or nxt.cls is not W.AGENT else i + 2  # "closest to you"
    if tok.cls is W.PREP and relative and current.ref.positions and current.ref.has_content():
        side = current.ref.positions.pop()  # "left of the tray", "closest to the tray"
        phrases.append(Phrase(prep=RELATIVE.get(side, "near")))
    else:
        clause.arrow = clause.arrow or tok.cls is W.ARROW
        phrases.append(Phrase(prep="to" if tok.cls is W.ARROW else tok.value))
    return i + 1


def _read_post(tokens: list[Token], i: int, phrases: list[Phrase]) -> int:
    tok, current = tokens[i], phrases[-1]
    current.post = tok.value
    if i + 1 < len(tokens) and tokens[i + 1].cls is W.DE:  # 托盘里的方块: modifies the next noun
        text = f"{current.ref.text}{tok.text}的"
        phrases.append(Phrase(ref=Reference(text=text, relation=Relation(tok.value, current.ref))))
        phrases.remove(current)
        return i + 2
    phrases.append(Phrase())
    return i + 1


def _read_de(tokens: list[Token], i: int, phrases: list[Phrase]) -> int:
    """红色方块的左边 / 旁边: "the left of the red cube" as a place beside it."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is not None and nxt.cls is W.POS and _ends_noun(tokens, i + 1):
        phrases[-1].prep = RELATIVE.get(nxt.value, "near")
        return i + 2
    return i + 1


def _is_direction(tokens: list[Token], i: int) -> bool:
    """A position word used as a direction of motion: followed by a verb or a distance."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if nxt is None:
        return False
    return nxt.cls in (W.VERB, W.NUM) or (nxt.cls is W.PREP and nxt.value == "by")


def _ends_noun(tokens: list[Token], i: int) -> bool:
    """The position word at i ends its noun phrase ("on the left", not "on the left cube")."""
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    return after is None or after.cls not in (W.KIND, W.COLOR, W.ID, W.DE, W.PERSON)


def _new_noun(ref: Reference, tok: Token) -> bool:
    if not ref.has_content() or (ref.pronoun and tok.cls is W.PRON):
        return False
    if tok.cls is W.TABLE or ref.table:
        return tok.cls is not W.POS  # "桌子中间": a position of the table itself
    if tok.cls is W.PERSON:
        return not ref.is_person
    return ref.is_person and tok.cls in (W.KIND, W.ID, W.PRON, W.COLOR)


def _read_number(tokens: list[Token], i: int, clause: Clause) -> int:
    """A number with an optional axis before it and unit after it (x 0.4, 40 cm, 2 秒)."""
    axis = tokens[i - 1].value if i and tokens[i - 1].cls is W.AXIS else None
    value, j = tokens[i].number, i + 1
    if j < len(tokens) and tokens[j].cls in (W.COLOR, W.KIND) and axis is None:
        return j  # a count ("the 2 red cubes"): the plural says it
    unit = tokens[j].value if j < len(tokens) and tokens[j].cls is W.UNIT else None
    length = unit is not None and unit != "s"
    if unit is not None:
        j += 1
        value *= float(unit) if unit != "s" else 1.0
    # "10 cm to the left": an offset from where the object is
    k = j + 1 if j < len(tokens) and tokens[j].cls is W.PREP else j
    if unit not in (None, "s") and k < len(tokens) and tokens[k].cls is W.POS and axis is None:
        clause.offsets.append((tokens[k].value, value))
        return k + 1
    if length and axis is None and clause.direction is not None:
        clause.offsets.append((clause.direction, value))
        return j
    clause.numbers.append((axis if unit != "s" else "s", value))
    return j


def _add_to_reference(ref: Reference, tok: Token) -> None:
    ref.text = f"{ref.text} {tok.text}".strip()
    ref.plural = ref.plural or tok.plural
    if tok.cls is W.COLOR:
        ref.colors.add(COLOR_BY_NAME[tok.value])
    elif tok.cls in (W.KIND, W.PERSON):
        kinds = frozenset(ObjectKind(k) for k in tok.value.split(",") if k)
        ref.kinds = (ref.kinds or frozenset()) | kinds if kinds else ref.kinds
    elif tok.cls is W.POS:
        ref.positions.append(tok.value)
    elif tok.cls is W.QUANT:
        ref.every = True
    elif tok.cls is W.PRON:
        ref.pronoun = True
    elif tok.cls is W.ID:
        ref.ids.append(tok.value)
    elif tok.cls is W.MATCH:
        ref.matching = True
    elif tok.cls is W.TABLE:
        ref.table = True


def _note(clause: Clause, tok: Token) -> None:
    if tok.cls is W.HOME:
        clause.home = True
    elif tok.cls is W.SPEED:
        clause.speed = tok.value
    elif tok.cls is W.MATCH:
        clause.by_color = True
    elif tok.cls is W.WORD:
        clause.unknown.append(tok.text)
    if tok.cls in (W.HARM, W.OVERRIDE, W.SAFETY, W.NEG, W.AGENT, W.SPEED, W.ATTR):
        clause.flags.add(tok.cls)


# ---- roles ---------------------------------------------------------------------------------


def _assign_roles(clause: Clause, phrases: list[Phrase]) -> None:
    if not phrases:
        return
    for phrase in phrases:
        clause.by_color = clause.by_color or phrase.ref.matching
    theme_at = _theme_index(phrases)
    if clause.verb == "stack" and theme_at is not None:
        phrases = _read_chain(clause, phrases, theme_at)
    dest_at = _dest_index(clause, phrases, theme_at)
    ba_at = next((i for i, p in enumerate(phrases) if p.ba), None)
    for i, phrase in enumerate(phrases):
        if ba_at is not None and i < ba_at and phrase.rel is None:
            continue  # the subject before 把 (我打算把方块...): not an object of the action
        if phrase.prep == "from" and i != dest_at:
            clause.source = phrase.ref
            _attach(phrases, i, Relation("from", phrase.ref))
        elif i == dest_at:
            clause.dest, clause.dest_rel = phrase.ref, phrase.rel
        elif i == theme_at or (phrase.conj and phrases[i - 1].ref in clause.themes):
            clause.themes.append(phrase.ref)
        elif phrase.conj and clause.dest is not None and i > (dest_at or 0):
            clause.themes.append(phrase.ref)  # rare: "in the tray and the plate" kept as themes
        elif i > 0 and phrase.rel is not None:
            _attach(phrases, i, Relation(phrase.rel, phrase.ref))
        elif phrase.rel is None:
            clause.themes.append(phrase.ref)  # also the second object of "hand me the cube"


def _read_chain(clause: Clause, phrases: list[Phrase], theme_at: int) -> list[Phrase]:
    """ "stack red on green on blue": the middle blocks go on first (clause.chain, top down)."""
    ons = phrases[theme_at + 1 :]
    if len(ons) < 2 or any(p.rel != "on" or p.post for p in ons):
        return phrases
    clause.chain = [p.ref for p in ons[:-1]]
    return [*phrases[: theme_at + 1], ons[-1]]


def _theme_index(phrases: list[Phrase]) -> int | None:
    for i, phrase in enumerate(phrases):
        if phrase.ba:
            return i
    for i, phrase in enumerate(phrases):
        if phrase.prep is None and phrase.post is None:
            return i
    return None


def _dest_index(clause: Clause, phrases: list[Phrase], theme_at: int | None) -> int | None:
    allowed = PICK_DEST_PREPS if clause.verb in ("pick", "remove") else BESIDE_PREPS
    if clause.verb in ("give",):
        allowed = DEST_PREPS
    for i in range(len(phrases) - 1, -1, -1):
        phrase = phrases[i]
        if i == theme_at or phrase.conj:
            continue
        if phrase.prep in allowed or (phrase.post in ("in", "on") and phrase.prep != "from"):
            return i
    return None


def _attach(phrases: list[Phrase], i: int, relation: Relation) -> None:
    """A prepositional phrase that is not a role modifies the noun before it."""
    for j in range(i - 1, -1, -1):
        target = phrases[j].ref
        if target.has_content() and target.relation is None:
            target.relation = relation
            target.text = f"{target.text} {relation.rel} {relation.other.describe()}"
            return


def parse(tokens: list[Token]) -> list[Clause]:
    return [parse_clause(c) for c in split_clauses(tokens)]
