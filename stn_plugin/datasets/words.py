"""Text to render: an embedded English word list, pronounceable pseudo-words, numbers,
and lines of them (plain Python / numpy, no download).

Every draw comes from the caller's ``numpy`` generator, so a generated set depends only
on its seed.

>>> rng = np.random.default_rng(0)
>>> isinstance(sample_word(rng), str)
True
>>> len(sample_line(np.random.default_rng(1), 3).split(" "))
3
"""
from __future__ import annotations

import numpy as np

__all__ = ["ENGLISH_WORDS", "WORD_SOURCES", "sample_line", "sample_word"]

WORD_SOURCES = ("mixed", "english", "pseudo")

#: A small embedded English word list (no download needed).
ENGLISH_WORDS = tuple("""
about above across after again against almost alone along already always among animal answer
around asked away back became because become before began behind being below better between
black board body book both bread bring brother brown build built business called came cannot
carry center change children church circle city class clear close coffee cold color common
complete could country course cover cross dance dark daughter develop different distance doctor
done door down draw dream drive during early earth east eight energy enough even evening every
example face fact family farm father feel field figure final find fine fire first fish five floor
follow food foot force forest form found four free friend front full game garden gave general
girl give glass gold good great green ground group grow half hand happy hard head hear heard heart
heavy help here high hold home horse hotel hour house human hundred idea inside island just keep
kind king know land language large last late laugh learn leave left letter life light line list
listen little live long look love machine made main make many market matter mean measure meet
might mile mind minute money month moon more morning most mother mountain move much music must
name nation near need never next night north nothing notice number ocean office often open order
other paper park party pass people period person picture piece place plan plant play point police
power press problem produce public pull question quick rain reach read ready real record river
road rock room round rule run said same school science score second sentence seven shape ship
shop short should show side simple since sing size sleep small snow song soon sound south space
speak special spring square stand star start station stay step still stone stop store story
street strong study such summer sure surface table take talk teacher tell test than that their
there these thing think three through time today together took total tower town travel tree true
under until usual valley very voice walk wall warm watch water wave week weight west what wheel
where which while white whole wind window winter with without woman wonder wood word work world
would write year yellow young zone
""".split())

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "cl", "dr", "fr", "gr", "pl", "pr", "sh", "st", "th", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y")
_CODAS = ("", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "x")

def sample_word(rng: np.random.Generator, source: str = "mixed") -> str:
    """A word: English (45%), pronounceable pseudo-word (45%) or number (10%) for
    ``source='mixed'``; cased lower (70%), Capitalised (20%) or UPPER (10%)."""
    if source not in WORD_SOURCES:
        raise ValueError(f"word source must be one of {WORD_SOURCES}, got {source!r}")
    u = rng.random()
    if source == "english" or (source == "mixed" and u < 0.45):
        word = ENGLISH_WORDS[rng.integers(len(ENGLISH_WORDS))]
    elif source == "pseudo" or u < 0.9:
        word = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                       for _ in range(rng.integers(1, 4)))
        word += _CODAS[rng.integers(len(_CODAS))]
        word = word[:10]
    else:
        word = str(rng.integers(0, 10 ** rng.integers(2, 6)))
    c = rng.random()
    return word.upper() if c < 0.1 else (word.capitalize() if c < 0.3 else word)


_PUNCTUATION = (",", ".", ":", ";", "!", "?", "-")


def sample_line(rng: np.random.Generator, num_words: int) -> str:
    """``num_words`` words of :func:`sample_word` joined by spaces, with the punctuation
    and mixed forms of running text: a trailing comma, full stop or colon now and then,
    prices, dates and hyphenated pairs."""
    if num_words < 1:
        raise ValueError(f"num_words must be >= 1, got {num_words}")
    out = []
    for _ in range(num_words):
        u = rng.random()
        if u < 0.06:
            word = f"{rng.integers(1, 999)}.{rng.integers(0, 100):02d}"
        elif u < 0.1:
            word = f"{rng.integers(1, 29)}/{rng.integers(1, 13)}/{rng.integers(1990, 2031)}"
        elif u < 0.14:
            word = f"{sample_word(rng)}-{sample_word(rng, 'english')}"
        else:
            word = sample_word(rng)
        if rng.random() < 0.12:
            word += _PUNCTUATION[rng.integers(len(_PUNCTUATION))]
        out.append(word)
    return " ".join(out)
