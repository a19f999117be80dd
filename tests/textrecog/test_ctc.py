"""CTC decoding and the character dictionary (plain torch, no OpenMMLab)."""
import math

import pytest
import torch

from stn_plugin.textrecog.ctc_decoding import ctc_beam_search_decode, ctc_greedy_decode
from stn_plugin.textrecog.dictionary import CTCDictionary


def _log(probs):
    return torch.tensor(probs, dtype=torch.float64).log()


def test_greedy_collapses_repeats_and_drops_blanks():
    # classes: 0 blank, 1 'a', 2 'b'; best path a a _ a b b _  -> "aab"
    frames = [[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .8, .1], [.1, .1, .8], [.1, .1, .8], [.8, .1, .1]]
    (labels, score), = ctc_greedy_decode(_log(frames))
    assert labels == [1, 1, 2]
    assert score == pytest.approx(0.8)


def test_greedy_respects_lengths_and_batch():
    frames = torch.stack([_log([[.1, .8, .1], [.1, .1, .8]]), _log([[.1, .1, .8], [.1, .8, .1]])])
    out = ctc_greedy_decode(frames, lengths=[1, 2])
    assert [o[0] for o in out] == [[1], [2, 1]]


def test_beam_search_beats_greedy_on_summed_alignments():
    # two frames, P(a) = 0.4, P(blank) = 0.6 each: best path is "" (0.36) but the
    # labelling "a" has probability 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64.
    frames = _log([[.6, .4], [.6, .4]])
    assert ctc_greedy_decode(frames)[0][0] == []
    (labels, logp), = ctc_beam_search_decode(frames, beam_width=3)
    assert labels == [1]
    assert logp == pytest.approx(math.log(0.64), abs=1e-9)


def test_beam_search_repeated_characters_need_a_blank():
    # "aa" is only reachable through a blank between the two a's
    frames = _log([[.05, .9, .05], [.9, .05, .05], [.05, .9, .05]])
    (labels, logp), = ctc_beam_search_decode(frames, beam_width=4)
    assert labels == [1, 1]
    # exact probability of "aa" for T=3: only path a _ a
    assert logp == pytest.approx(math.log(.9 * .9 * .9), abs=1e-9)


def test_beam_search_matches_greedy_on_peaked_input():
    torch.manual_seed(0)
    logits = torch.randn(4, 12, 6) * 5
    greedy = [g[0] for g in ctc_greedy_decode(logits.log_softmax(-1))]
    beam = [b[0] for b in ctc_beam_search_decode(logits.log_softmax(-1), beam_width=8)]
    assert len(beam) == 4 and all(isinstance(b, list) for b in beam)
    # with very peaked frames the most probable labelling is the best path's
    peaked = (logits * 20).log_softmax(-1)
    assert [b[0] for b in ctc_beam_search_decode(peaked, beam_width=8)] == \
        [g[0] for g in ctc_greedy_decode(peaked)]
    assert greedy  # smoke


def test_beam_search_bad_width():
    with pytest.raises(ValueError, match="beam_width"):
        ctc_beam_search_decode(torch.zeros(3, 2), beam_width=0)


def test_dictionary_default_lowercase_alnum():
    d = CTCDictionary()
    assert d.num_classes == 37 and d.blank == 0
    assert d.encode("Ab1") == [11, 12, 2]
    assert d.encode("a-b") == [11, 12]          # unknown '-' ignored
    assert d.decode([11, 12, 2, 0]) == "ab1"
    targets, lengths = d.encode_batch(["ab", "", "z9"])
    assert lengths.tolist() == [2, 0, 2] and targets.tolist() == [11, 12, 36, 10]


def test_dictionary_from_file_and_errors(tmp_path):
    f = tmp_path / "dict.txt"
    f.write_text("a\nB\nc\n")
    d = CTCDictionary(dict_file=str(f), unknown="error")
    assert d.characters == ["a", "B", "c"] and not d.lower
    assert d.encode("aBc") == [1, 2, 3]
    with pytest.raises(KeyError, match="not in the dictionary"):
        d.encode("abc")
    with pytest.raises(FileNotFoundError, match="dict_file"):
        CTCDictionary(dict_file=str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="duplicates"):
        CTCDictionary(characters="abca")
    with pytest.raises(ValueError, match="unknown"):
        CTCDictionary(unknown="skip")
