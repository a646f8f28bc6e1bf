"""Tokenizer of the offline planner: text in, canonical word-class tokens out.

English is split on words and matched against multi-word phrases longest
first; Chinese runs go through jieba (with the planner's lexicon added) and any
segment jieba keeps whole but the lexicon does not know is split again by
longest match, so "放到" becomes put + to.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import jieba

from embodied_stack.planning.vocab import (
    CHINESE,
    CHINESE_DIGITS,
    ENGLISH,
    ENGLISH_NUMBERS,
    PLURAL_IRREGULAR,
    W,
)

MAX_PHRASE_WORDS = 4
_MAX_CJK_WORD = max(len(w) for w in CHINESE)

_SCAN = re.compile(
    r"(?P<arrow>-+>|=+>|→|⟶|➜|➡)"
    r"|(?P<num>[-+]?(?:\d+(?:\.\d+)?|\.\d+))"
    r"|(?P<word>[a-z_][a-z0-9_\-']*)"
    r"|(?P<cjk>[\u3400-\u9fff]+)"
    r"|(?P<punct>[,;.!?:()\[\]=。、…])"
)
_PUNCT: dict[str, W] = {",": W.COMMA, ";": W.SEP, ".": W.SEP, "!": W.SEP, "?": W.SEP}
_PUNCT |= {"。": W.SEP, "、": W.AND, ":": W.FILLER, "=": W.FILLER, "…": W.SEP}


@dataclass(frozen=True, slots=True)
class Token:
    cls: W
    value: str
    text: str
    plural: bool = False
    number: float = 0.0


_jieba_lock = threading.Lock()
_jieba_ready = False


def warm_up() -> None:
    """Load jieba's dictionary and teach it the lexicon (once, ~0.5 s)."""
    global _jieba_ready
    with _jieba_lock:
        if _jieba_ready:
            return
        jieba.setLogLevel(60)
        jieba.initialize()
        for word in CHINESE:
            jieba.add_word(word, freq=200000)
        _jieba_ready = True


def tokenize(text: str, object_ids: Collection[str] = ()) -> list[Token]:
    """Canonical tokens of an instruction; words equal to a perceived id become ID tokens."""
    normal = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    tokens: list[Token] = []
    words: list[str] = []
    for match in _SCAN.finditer(normal):
        kind, piece = match.lastgroup, match.group()
        if kind == "word":
            words.append(piece)
            continue
        tokens.extend(_english(words, object_ids))
        words = []
        if kind == "num":
            tokens.append(Token(W.NUM, piece, piece, number=float(piece)))
        elif kind == "arrow":
            tokens.append(Token(W.ARROW, "->", piece))
        elif kind == "cjk":
            tokens.extend(_chinese(piece))
        else:
            tokens.append(Token(_PUNCT.get(piece, W.FILLER), piece, piece))
    tokens.extend(_english(words, object_ids))
    return tokens


def _english(words: list[str], object_ids: Collection[str]) -> Iterator[Token]:
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            token = _english_word(phrase, object_ids) if n == 1 else _english_phrase(phrase)
            if token is not None:
                yield token
                i += n
                break


def _english_phrase(phrase: str) -> Token | None:
    entry = ENGLISH.get(phrase)
    if entry is not None:
        return Token(entry[0], entry[1], phrase)
    number = ENGLISH_NUMBERS.get(phrase)
    return Token(W.NUM, str(number), phrase, number=number) if number is not None else None


def _english_word(word: str, object_ids: Collection[str]) -> Token:
    bare = word.removesuffix("'s").strip("-'")
    if bare in object_ids and (bare not in ENGLISH or "_" in bare):
        return Token(W.ID, bare, word)
    entry = ENGLISH.get(bare)
    if entry is not None:
        return Token(entry[0], entry[1], word, plural=bare in PLURAL_IRREGULAR)
    number = ENGLISH_NUMBERS.get(bare)
    if number is not None:
        return Token(W.NUM, str(number), word, number=number)
    for stem in _singulars(bare):
        entry = ENGLISH.get(stem)
        if entry is not None and entry[0] in (W.KIND, W.PERSON, W.ATTR, W.COLOR):
            return Token(entry[0], entry[1], word, plural=True)
    if bare in object_ids:
        return Token(W.ID, bare, word)
    return Token(W.WORD, bare, word)


def _singulars(word: str) -> list[str]:
    """Candidate singular forms of an English plural (cubes, boxes, knives, bodies)."""
    if not word.endswith("s") or len(word) < 3:
        return []
    forms = [word[:-1], word[:-2]]
    if word.endswith("ves"):
        forms += [word[:-3] + "fe", word[:-3] + "f"]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    return forms


def _chinese(run: str) -> Iterator[Token]:
    warm_up()
    for segment in jieba.lcut(run, HMM=False):
        entry = CHINESE.get(segment)
        if entry is not None:
            yield Token(entry[0], entry[1], segment)
        else:
            yield from _longest_match(segment)


def _longest_match(segment: str) -> list[Token]:
    """Split a segment jieba kept whole into lexicon words (放到 -> 放 + 到). When part of
    it is unknown, the segment is some other word (打算 "intend", 计划 "plan"), and a
    striking character inside it (打, 划) is not read as one."""
    tokens: list[Token] = []
    i = 0
    while i < len(segment):
        for n in range(min(_MAX_CJK_WORD, len(segment) - i), 0, -1):
            token = _cjk_piece(segment[i : i + n], last_chance=n == 1)
            if token is not None:
                tokens.append(token)
                break
        i += n
    if any(t.cls is W.WORD for t in tokens):
        tokens = [Token(W.WORD, t.text, t.text) if t.cls is W.HARM else t for t in tokens]
    return tokens


def _cjk_piece(piece: str, *, last_chance: bool) -> Token | None:
    entry = CHINESE.get(piece)
    if entry is not None:
        return Token(entry[0], entry[1], piece)
    if not last_chance:
        return None
    digit = CHINESE_DIGITS.get(piece)
    if digit is not None:
        return Token(W.NUM, str(digit), piece, number=float(digit))
    return Token(W.WORD, piece, piece)
