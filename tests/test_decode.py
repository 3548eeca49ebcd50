"""Constrained Viterbi: checked against brute force over every path on small K and T."""

import itertools

import numpy as np
import pytest

from charlm.tagger.decode import transition_mask, viterbi
from charlm.text.schemes import convert, spans

TAGSETS = {
    "iob2": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "iob1": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "bioes": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"],
}


def is_valid(tags, scheme):
    """The scheme's rules, written independently of transition_mask: a valid sequence is
    one its own scheme writes back unchanged (canonical form)."""
    return convert(tags, scheme, scheme) == tags


def brute_force(score, allowed, start, end):
    """Best path of one (T, K) score matrix by enumerating all K**T paths."""
    T, K = score.shape
    best, best_path = -np.inf, None
    for path in itertools.product(range(K), repeat=T):
        if not start[path[0]] or not end[path[-1]]:
            continue
        if any(not allowed[a, b] for a, b in zip(path, path[1:])):
            continue
        total = sum(score[t, k] for t, k in enumerate(path))
        if total > best:
            best, best_path = total, list(path)
    return best, best_path


@pytest.mark.parametrize("scheme", ["iob2", "bioes"])
def test_mask_accepts_exactly_the_canonical_sequences(scheme):
    tags = TAGSETS[scheme]
    allowed, start, end = transition_mask(tags, scheme)
    for T in range(1, 5):
        for path in itertools.product(range(len(tags)), repeat=T):
            seq = [tags[k] for k in path]
            ok = start[path[0]] and end[path[-1]] and all(
                allowed[a, b] for a, b in zip(path, path[1:]))
            assert ok == is_valid(seq, scheme), seq


def test_iob1_mask_accepts_exactly_the_canonical_sequences():
    # IOB1 written by render(): B- only between two adjacent entities of one type.
    tags = TAGSETS["iob1"]
    allowed, start, end = transition_mask(tags, "iob1")
    for T in range(1, 5):
        for path in itertools.product(range(len(tags)), repeat=T):
            seq = [tags[k] for k in path]
            ok = start[path[0]] and end[path[-1]] and all(
                allowed[a, b] for a, b in zip(path, path[1:]))
            assert ok == is_valid(seq, "iob1"), seq


@pytest.mark.parametrize("scheme", ["iob2", "iob1", "bioes"])
def test_viterbi_matches_brute_force(scheme, rng):
    tags = TAGSETS[scheme]
    K = len(tags)
    allowed, start, end = transition_mask(tags, scheme)
    N, T = 7, 4
    scores = np.log(rng.dirichlet(np.ones(K), size=(N, T)))     # (N, T, K)
    lengths = np.array([4, 1, 3, 2, 4, 3, 1])
    paths = viterbi(scores, lengths, allowed, start, end)
    for n in range(N):
        L = lengths[n]
        best, want = brute_force(scores[n, :L], allowed, start, end)
        assert len(paths[n]) == L
        got = sum(scores[n, t, k] for t, k in enumerate(paths[n]))
        assert got == pytest.approx(best)
        assert paths[n] == want
        assert is_valid([tags[k] for k in paths[n]], scheme)


def test_padding_does_not_change_a_row(rng):
    tags = TAGSETS["iob2"]
    mask = transition_mask(tags, "iob2")
    scores = np.log(rng.dirichlet(np.ones(5), size=(1, 6)))
    short = viterbi(scores[:, :3], [3], *mask)
    padded = scores.copy()
    padded[0, 3:] = rng.normal(size=(3, 5)) * 50                # junk past the length
    assert viterbi(padded, [3], *mask) == short


def test_argmax_can_be_invalid_where_viterbi_is_not():
    tags = TAGSETS["iob2"]
    # Token 0 prefers O, token 1 prefers I-PER: argmax gives O I-PER (invalid in IOB2).
    probs = np.array([[[0.6, 0.3, 0.05, 0.03, 0.02],
                       [0.1, 0.2, 0.6, 0.05, 0.05]]])
    argmax = [tags[k] for k in probs[0].argmax(axis=1)]
    assert argmax == ["O", "I-PER"] and not is_valid(argmax, "iob2")
    path = viterbi(np.log(probs), [2], *transition_mask(tags, "iob2"))[0]
    decoded = [tags[k] for k in path]
    assert is_valid(decoded, "iob2")
    assert decoded == ["B-PER", "I-PER"]        # 0.3*0.6 beats O B-PER (0.6*0.2)
    assert spans(decoded) == [(0, 2, "PER")]


def test_random_scores_never_decode_invalid(rng):
    for scheme, tags in TAGSETS.items():
        mask = transition_mask(tags, scheme)
        scores = rng.normal(size=(64, 9, len(tags))) * 3
        lengths = rng.integers(0, 10, size=64)
        for path, L in zip(viterbi(scores, lengths, *mask), lengths):
            assert len(path) == L
            assert is_valid([tags[k] for k in path], scheme)


def test_non_entity_tags_are_unconstrained(rng):
    tags = ["NOUN", "VERB", "DET"]
    allowed, start, end = transition_mask(tags, None)
    assert allowed.all() and start.all() and end.all()
    scores = rng.normal(size=(3, 5, 3))
    paths = viterbi(scores, [5, 2, 0], allowed, start, end)
    assert paths[0] == scores[0].argmax(axis=1).tolist()
    assert paths[1] == scores[1, :2].argmax(axis=1).tolist()
    assert paths[2] == []
