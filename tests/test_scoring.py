import math

import numpy as np
import pytest

from charlm.store import modelfile
from charlm.lm.model import LanguageModel, ModelConfig
from charlm.lm.scoring import Summary, score_lines
from charlm.text.tokens import TextConfig
from charlm.text.vocab import Vocab

VOCAB = Vocab(["<eos>", "<unk>", "a", "b", "c", " "])


@pytest.fixture
def m(rng):
    model = LanguageModel.create(ModelConfig(vocab_size=len(VOCAB), hidden=7, layers=2), rng,
                                 np.float64)
    for k, p in model.params.items():
        p[...] = rng.standard_normal(p.shape) * 0.5
    return model


def score(m, lines, **kw):
    return list(score_lines(m, VOCAB, TextConfig(), lines, **kw))


def test_line_score_is_the_sum_of_token_log_probs(m):
    s = score(m, ["abc"])[0]
    x = np.array([[0, 2, 3, 4]])
    y = np.array([[2, 3, 4, 0]])
    lp, _ = m.log_probs(x, y)
    assert s.tokens == ["a", "b", "c", "<eos>"]
    assert np.allclose(s.logprobs, lp[0])
    assert s.total == pytest.approx(lp.sum())
    assert s.perplexity == pytest.approx(math.exp(-lp.sum() / 4))
    assert s.log10prob == pytest.approx(lp.sum() / math.log(10))
    assert s.bits_per_char == pytest.approx(-lp.sum() / math.log(2) / 4)


def test_batching_never_leaks_padding(m):
    lines = ["abcabcab", "", "ba", "c a b", "abc" * 30, "b"]
    together = score(m, lines, batch_lines=4)
    for line, s in zip(lines, together):
        alone = score(m, [line])[0]
        assert s.text == line
        assert np.allclose(s.logprobs, alone.logprobs, rtol=0, atol=1e-10)


def test_empty_line_scores_only_eos_and_no_eos_option(m):
    s = score(m, [""])[0]
    assert s.tokens == ["<eos>"] and s.n_tokens == 1
    s = score(m, ["ab"], eos=False)[0]
    assert s.tokens == ["a", "b"]


def test_oovs_are_scored_as_unk_and_counted(m):
    s = score(m, ["azz"])[0]
    assert s.n_oov == 2 and list(s.oov) == [False, True, True, False]
    unk = score(m, ["a\ufffd\ufffd"])[0]            # other unknowns: the same UNK
    assert np.allclose(s.logprobs, unk.logprobs)


def test_long_line_is_scored_in_windows(m):
    line = "abc " * 2000
    s = score(m, [line, "a"])[0]
    assert s.n_tokens == len(line) + 1 and np.isfinite(s.total)
    x = np.array([[0] + [VOCAB.index[c] for c in line]])
    y = np.array([[VOCAB.index[c] for c in line] + [0]])
    lp, _ = m.log_probs(x, y)
    assert s.total == pytest.approx(lp.sum(), rel=1e-9)


def test_summary_formulas(m):
    summary = Summary()
    scores = score(m, ["abc", "zz", ""])
    for s in scores:
        summary.add(s)
    total = sum(s.total for s in scores)
    tokens = sum(s.n_tokens for s in scores)
    assert summary.tokens == tokens == 8 and summary.oovs == 2
    assert summary.perplexity == pytest.approx(10 ** (-total / math.log(10) / tokens))
    oov_lp = scores[1].logprobs[:2].sum()
    assert summary.perplexity_excluding_oovs == pytest.approx(
        math.exp(-(total - oov_lp) / (tokens - 2)))
    assert summary.bits_per_char == pytest.approx(-total / math.log(2) / (4 + 3 + 1))


def test_trained_model_beats_fresh_one_on_held_out_names(trained_names, rng):
    b = modelfile.load(trained_names)
    held_out = ["marisol", "johnathan", "evelina", "bernadette", "kristopher"]
    fresh = LanguageModel.create(b.model.config, rng)
    trained = Summary()
    untrained = Summary()
    for s in score_lines(b.model, b.vocab, b.text, held_out):
        trained.add(s)
    for s in score_lines(fresh, b.vocab, b.text, held_out):
        untrained.add(s)
    assert trained.perplexity < 0.7 * untrained.perplexity
