"""Character dictionaries for CTC text recognition (plain Python, no mm* import).

Index 0 is the CTC blank; characters take indices ``1 .. num_chars``.
"""
from __future__ import annotations

import os
import string
from typing import Iterable, List, Optional, Sequence

import torch
from torch import Tensor

#: The default alphabet: lower-case ASCII letters and digits (the standard
#: 36-class protocol of the scene-text benchmarks).
LOWER_ALNUM = string.digits + string.ascii_lowercase

UNKNOWN_POLICIES = ("ignore", "error")


class CTCDictionary:
    """Map between text and label indices for CTC (blank = 0).

    Args:
        characters: the alphabet as a string (each character once), e.g.
            ``'0123456789abcdefghijklmnopqrstuvwxyz'``. Default: lower-case alnum.
        dict_file: alternatively an mmocr-style dictionary file, one character per
            line (overrides ``characters``).
        lower: lower-case text before encoding (set automatically when the alphabet
            has no upper-case letters and ``lower`` is None).
        unknown: ``'ignore'`` drops characters outside the alphabet when encoding;
            ``'error'`` raises ``KeyError`` naming them.
    """

    def __init__(self, characters: Optional[str] = None, dict_file: Optional[str] = None,
                 lower: Optional[bool] = None, unknown: str = "ignore") -> None:
        if dict_file is not None:
            if not os.path.isfile(dict_file):
                raise FileNotFoundError(f"dictionary dict_file={dict_file!r} does not exist")
            with open(dict_file, encoding="utf-8") as f:
                chars = [line.rstrip("\r\n") for line in f]
            chars = [c for c in chars if c != ""]
            bad = [c for c in chars if len(c) != 1]
            if bad:
                raise ValueError(f"dict_file={dict_file!r}: every line must hold one character, got {bad[:5]}")
        else:
            chars = list(LOWER_ALNUM if characters is None else characters)
        if not chars:
            raise ValueError("dictionary characters must not be empty")
        dup = sorted({c for c in chars if chars.count(c) > 1})
        if dup:
            raise ValueError(f"dictionary characters contain duplicates: {dup}")
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"dictionary unknown must be one of {UNKNOWN_POLICIES}, got {unknown!r}")
        self.characters: List[str] = chars
        self.lower = (not any(c.isupper() for c in chars)) if lower is None else bool(lower)
        self.unknown = unknown
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @property
    def num_classes(self) -> int:
        """Number of CTC classes: characters + 1 (the blank)."""
        return len(self.characters) + 1

    blank: int = 0

    def encode(self, text: str) -> List[int]:
        """``text`` -> label indices in ``1 .. num_chars`` (no blanks)."""
        if self.lower:
            text = text.lower()
        out, missing = [], []
        for ch in text:
            idx = self._index.get(ch)
            if idx is None:
                missing.append(ch)
            else:
                out.append(idx)
        if missing and self.unknown == "error":
            raise KeyError(f"characters {sorted(set(missing))} of {text!r} are not in the dictionary")
        return out

    def unknown_characters(self, text: str) -> List[str]:
        """The characters of ``text`` (after lower-casing, if the dictionary does) that are
        not in the dictionary, each once, in order of appearance."""
        if self.lower:
            text = text.lower()
        return list(dict.fromkeys(ch for ch in text if ch not in self._index))

    def encode_batch(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Texts -> ``(targets (sum L,), lengths (B,))`` long tensors, as ``F.ctc_loss`` takes them."""
        seqs = [self.encode(t) for t in texts]
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        targets = torch.tensor([i for s in seqs for i in s], dtype=torch.long)
        return targets, lengths

    def decode(self, indices: Iterable[int]) -> str:
        """Label indices (already collapsed, blanks removed or not) -> text."""
        return "".join(self.characters[i - 1] for i in indices if 0 < i <= len(self.characters))

    def __repr__(self) -> str:
        return f"CTCDictionary({''.join(self.characters)!r}, lower={self.lower})"
