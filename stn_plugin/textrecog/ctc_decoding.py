"""CTC decoding: greedy (best path) and prefix beam search (plain torch / Python).

Both take per-frame log-probabilities ``(T, C)`` (or a batch ``(N, T, C)``) with the
blank at index ``blank`` and return label index sequences (blanks removed, repeats
collapsed) with a score.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import List, Optional, Sequence, Tuple

from torch import Tensor

_NEG_INF = -math.inf


def _logsumexp(*values: float) -> float:
    m = max(values)
    if m == _NEG_INF:
        return _NEG_INF
    return m + math.log(sum(math.exp(v - m) for v in values))


def ctc_greedy_decode(log_probs: Tensor, blank: int = 0,
                      lengths: Optional[Sequence[int]] = None) -> List[Tuple[List[int], float]]:
    """Best-path decoding.

    Args:
        log_probs: ``(N, T, C)`` log-probabilities (or ``(T, C)`` for one sequence).
        blank: index of the CTC blank.
        lengths: valid frames per sequence (default: all ``T``).

    Returns:
        per sequence ``(labels, score)``: the collapsed labels and the mean of the
        chosen frames' max probability over the emitted (non-blank) frames (1.0 if
        nothing is emitted), a confidence in [0, 1].
    """
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (N, T, C) or (T, C), got shape {tuple(log_probs.shape)}")
    best_lp, best = log_probs.detach().float().max(-1)
    results = []
    for n in range(log_probs.shape[0]):
        t_max = log_probs.shape[1] if lengths is None else int(lengths[n])
        idx, lp = best[n, :t_max].tolist(), best_lp[n, :t_max].exp().tolist()
        labels, scores, prev = [], [], blank
        for i, p in zip(idx, lp):
            if i != blank and i != prev:
                labels.append(i)
                scores.append(p)
            prev = i
        results.append((labels, float(sum(scores) / len(scores)) if scores else 1.0))
    return results


def ctc_beam_search_decode(log_probs: Tensor, beam_width: int = 5, blank: int = 0,
                           lengths: Optional[Sequence[int]] = None,
                           prune_log_prob: Optional[float] = None) -> List[Tuple[List[int], float]]:
    """CTC prefix beam search (no language model).

    Sums the probability of every alignment of a prefix (blank-ending and
    non-blank-ending parts tracked separately), keeps the ``beam_width`` best
    prefixes per frame.

    Args:
        log_probs: ``(N, T, C)`` or ``(T, C)`` log-probabilities.
        beam_width: prefixes kept per frame (>= 1).
        blank: index of the CTC blank.
        lengths: valid frames per sequence.
        prune_log_prob: skip characters whose frame log-prob is below this (speed).

    Returns:
        per sequence ``(labels, log_prob)`` of the most probable labelling found.
    """
    if not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be a positive int, got {beam_width!r}")
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (N, T, C) or (T, C), got shape {tuple(log_probs.shape)}")
    lp_all = log_probs.detach().double().cpu()
    results = []
    for n in range(lp_all.shape[0]):
        t_max = lp_all.shape[1] if lengths is None else int(lengths[n])
        # prefix -> (log p ending in blank, log p ending in non-blank)
        beams = {(): (0.0, _NEG_INF)}
        for t in range(t_max):
            frame = lp_all[n, t].tolist()
            nxt = defaultdict(lambda: [_NEG_INF, _NEG_INF])
            chars = range(len(frame)) if prune_log_prob is None else \
                [c for c, v in enumerate(frame) if v >= prune_log_prob or c == blank]
            for prefix, (pb, pnb) in beams.items():
                total = _logsumexp(pb, pnb)
                for c in chars:
                    p = frame[c]
                    if c == blank:
                        e = nxt[prefix]
                        e[0] = _logsumexp(e[0], total + p)
                        continue
                    last = prefix[-1] if prefix else None
                    new = prefix + (c,)
                    e = nxt[new]
                    if c == last:
                        # repeat needs a blank in between; otherwise it collapses into prefix
                        e[1] = _logsumexp(e[1], pb + p)
                        same = nxt[prefix]
                        same[1] = _logsumexp(same[1], pnb + p)
                    else:
                        e[1] = _logsumexp(e[1], total + p)
            ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)[:beam_width]
            beams = {k: (v[0], v[1]) for k, v in ranked}
        best_prefix, (pb, pnb) = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))
        results.append((list(best_prefix), _logsumexp(pb, pnb)))
    return results
