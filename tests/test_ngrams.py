"""The classifier's n-gram part: the sparse linear layer (float64 gradient check), its
fit, the n-grams a line gives at character and word level, their tf-idf rows, the
way the two parts are joined, and files that keep and check the part."""

import io
import json
import zipfile

import numpy as np
import pytest

from charlm.classifier import file as classfile
from charlm.classifier.data import ClassVocab, make_batch
from charlm.classifier.model import ClassifierConfig, ClassifierModel
from charlm.classifier.ngrams import NgramPart, NgramTable, check_fits, marks_of
from charlm.engine.linear import (SparseRows, fit_softmax, softmax_l2_loss,
                                  sparse_affine_backward, sparse_affine_forward)
from charlm.engine.ops import log_softmax
from charlm.errors import ModelFileError, UsageError
from charlm.text.tokens import TextConfig
from gradcheck import numerical_grad, rel_error


def random_rows(rng, n=6, width=9, empty=(2,)):
    rows = []
    for i in range(n):
        k = 0 if i in empty else int(rng.integers(1, 5))
        cols = np.sort(rng.choice(width, k, replace=False))
        rows.append((cols, rng.standard_normal(k)))
    return SparseRows.from_rows(rows, width)


# --- the engine: z = W g + b over sparse rows, and its fit ------------------------------

def test_sparse_affine_matches_the_dense_product_and_its_gradients(rng):
    X = random_rows(rng)
    W, b = rng.standard_normal((3, 9)), rng.standard_normal(3)
    z, cache = sparse_affine_forward(W, b, X)
    assert np.allclose(z, W @ X.dense().T + b[:, None])
    dz = rng.standard_normal(z.shape)
    dW, db = sparse_affine_backward(dz, cache)

    def f():
        return float((sparse_affine_forward(W, b, X)[0] * dz).sum())

    assert rel_error(dW, numerical_grad(f, W)) < 1e-7
    assert rel_error(db, numerical_grad(f, b)) < 1e-7
    assert np.all(z[:, 2] == b)                          # an empty row scores b alone


def test_the_fit_loss_and_its_gradient_in_float64(rng):
    X = random_rows(rng)
    y = rng.integers(0, 3, size=6)
    W, b = rng.standard_normal((3, 9)) * 0.3, rng.standard_normal(3) * 0.3
    loss, dW, db = softmax_l2_loss(W, b, X, y, 0.05)
    dense = X.dense()

    def f():
        logp = log_softmax(W @ dense.T + b[:, None], axis=0)
        return -logp[y, np.arange(6)].mean() + 0.025 * (W * W).sum()

    assert loss == pytest.approx(f())
    assert rel_error(dW, numerical_grad(f, W)) < 1e-7
    assert rel_error(db, numerical_grad(f, b)) < 1e-7


def test_the_fit_reaches_the_minimum_and_is_deterministic(rng):
    X = random_rows(rng, n=40, width=12, empty=())
    y = rng.integers(0, 3, size=40)
    W, b, losses = fit_softmax(X, y, 3, 0.01, steps=600, lr=0.05)
    _, dW, db = softmax_l2_loss(W, b, X, y, 0.01)
    assert max(np.abs(dW).max(), np.abs(db).max()) < 1e-4    # convex: ∇ = 0 there
    assert losses[-1] < losses[0]
    W2, b2, _ = fit_softmax(X, y, 3, 0.01, steps=600, lr=0.05)
    assert np.array_equal(W, W2) and np.array_equal(b, b2)


def test_taking_rows_keeps_them(rng):
    X = random_rows(rng)
    for rows in (np.array([4, 2, 0]), slice(1, 4), np.array([5])):
        assert np.array_equal(X.take(rows).dense(), X.dense()[rows])


# --- the n-grams of a line ------------------------------------------------------------

def char_table(lines, n=3, min_lines=1):
    tokens = ["<pad>", "<unk>"] + sorted({c for line in lines for c in line})
    vocab = ClassVocab(tokens, ["x"])
    ids = [vocab.encode(list(line)) for line in lines]
    table = NgramTable.build(ids, "char", n, len(tokens), marks_of(tokens, "char"),
                             min_lines=min_lines)
    return table, vocab, ids


def texts(table, vocab):
    return {table.text_of(k, vocab.tokens) for k in table.keys}


def test_character_ngrams_stay_inside_words_with_their_boundaries():
    table, vocab, _ = char_table(["ab cd"])
    assert texts(table, vocab) == {"a", "b", "c", "d", " a", "ab", "b ", " c", "cd", "d ",
                                   " ab", "ab ", " cd", "cd "}       # never "b c" or " "


def test_word_ngrams_and_no_leak_between_lines():
    tokens = ["<pad>", "<unk>", "a", "b", "c"]
    ids = [np.array([2, 3]), np.array([4, 2])]
    table = NgramTable.build(ids, "word", 2, len(tokens), min_lines=1)
    got = {table.text_of(k, tokens) for k in table.keys}
    assert got == {"a", "b", "c", "a b", "c a"}                   # not "b c" across lines
    together = table.rows(ids).dense()
    for i, line in enumerate(ids):
        assert np.array_equal(table.rows([line]).dense()[0], together[i])


def test_rows_are_unit_sublinear_tfidf():
    table, vocab, ids = char_table(["aa", "ab"], n=1)
    X = table.rows(ids).dense()
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    col = {table.text_of(k, vocab.tokens): j for j, k in enumerate(table.keys)}
    idf_a, idf_b = np.log(3 / 3) + 1, np.log(3 / 2) + 1            # a in 2 lines, b in 1
    first = np.array([(1 + np.log(2)) * idf_a, 0.0])
    assert np.allclose(X[0, [col["a"], col["b"]]], first / np.linalg.norm(first))
    assert X[1, col["b"]] / X[1, col["a"]] == pytest.approx(idf_b / idf_a)


def test_rare_ngrams_are_left_out_and_unseen_lines_get_an_empty_row():
    table, vocab, ids = char_table(["ab", "ab", "cd"], n=2, min_lines=2)
    assert texts(table, vocab) == {"a", "b", " a", "ab", "b "}
    X = table.rows([vocab.encode(list("cd")), vocab.encode(list("zz"))])
    assert list(np.diff(X.indptr)) == [0, 0]


def test_keys_that_would_not_fit_are_refused():
    check_fits(4, 30_000)
    with pytest.raises(UsageError, match="at most 4"):
        check_fits(5, 30_000)


# --- joined with the recurrent part, and kept in files --------------------------------

def tiny_classifier(rng):
    lines = ["abc", "abd", "cab", "dd", "bad", "cc"]
    table, vocab, ids = char_table(lines, n=2)
    vocab = ClassVocab(vocab.tokens, ["x", "y", "z"])
    labels = np.array([0, 0, 1, 2, 1, 2])
    cfg = ClassifierConfig(len(vocab.tokens), 3, hidden=4, embed=3, dropout=0.0, ngrams=2)
    model = ClassifierModel.create(cfg, rng, np.float64, labels=vocab.labels)
    model.ngrams = NgramPart.fit(ids, labels, 3, table, np.float64)
    return model, vocab, ids


def test_the_answer_is_the_normalised_geometric_mean_of_the_two_parts(rng):
    model, vocab, ids = tiny_classifier(rng)
    grams = model.ngrams.rows(ids)
    batch, sort = make_batch(ids, np.arange(len(ids)), grams)
    both = model.log_probs(batch)
    part = model.ngrams
    model.ngrams = None
    recurrent = model.log_probs(make_batch(ids, np.arange(len(ids)))[0])
    model.ngrams = part
    z_g = sparse_affine_forward(part.W_g, part.b_g, grams)[0].T[sort]
    ngram = log_softmax(z_g, axis=1)
    want = log_softmax(0.5 * recurrent + 0.5 * ngram, axis=1)
    assert np.allclose(both, want)
    with pytest.raises(ValueError, match="n-grams"):
        model.log_probs(make_batch(ids, np.arange(len(ids)))[0])


def test_the_training_loss_is_the_recurrent_parts_alone(rng):
    model, vocab, ids = tiny_classifier(rng)
    batch, sort = make_batch(ids, np.arange(len(ids)), model.ngrams.rows(ids))
    y = np.array([0, 0, 1, 2, 1, 2])[sort]
    with_part = model.forward(batch, y)[0]
    model.ngrams = None
    assert model.forward(batch, y)[0] == with_part


def save(tmp_path, model, vocab, name="c.npz"):
    path = str(tmp_path / name)
    classfile.save(path, classfile.ClassifierBundle(model, vocab, TextConfig(level="char")))
    return path


def test_a_file_keeps_the_part_and_answers_the_same(tmp_path, rng):
    model, vocab, ids = tiny_classifier(rng)
    path = save(tmp_path, model, vocab)
    loaded = classfile.load(path).model
    assert np.array_equal(loaded.ngrams.table.keys, model.ngrams.table.keys)
    batch = make_batch(ids, np.arange(len(ids)), model.ngrams.rows(ids))[0]
    again = make_batch(ids, np.arange(len(ids)), loaded.ngrams.rows(ids))[0]
    assert np.array_equal(model.log_probs(batch), loaded.log_probs(again))


def rewrite(path, header=None, arrays=None):
    """The file at ``path`` with its header changed and arrays replaced."""
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    h = json.loads(files["header.json"])
    if header:
        header(h)
    files["header.json"] = json.dumps(h).encode()
    for name, a in (arrays or {}).items():
        buf = io.BytesIO()
        np.save(buf, a)
        files[name + ".npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


@pytest.mark.parametrize("damage, message", [
    (dict(header=lambda h: h.pop("ngrams")), "header.ngrams does not agree"),
    (dict(header=lambda h: h["ngrams"].update(size=3)), "ngram.keys"),
    (dict(header=lambda h: h["model"].update(ngrams=9)), "from 0 to 8"),
    (dict(arrays="reverse"), "ascending n-gram keys"),
])
def test_a_damaged_part_is_refused_in_one_line(tmp_path, rng, damage, message):
    model, vocab, _ = tiny_classifier(rng)
    path = save(tmp_path, model, vocab)
    if damage.get("arrays") == "reverse":
        damage = dict(arrays={"ngram.keys": model.ngrams.table.keys[::-1].copy()})
    rewrite(path, **damage)
    with pytest.raises(ModelFileError, match=message) as e:
        classfile.load(path)
    assert "\n" not in str(e.value)


def test_a_classifier_without_the_part_still_loads(tmp_path, rng):
    model, vocab, ids = tiny_classifier(rng)
    model.ngrams = None
    model.config.ngrams = 0
    path = save(tmp_path, model, vocab)
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read("header.json"))
    assert "ngrams" not in header
    assert classfile.load(path).model.ngrams is None


def port_rows(ids, tokens, level, n, keys, idf):
    """g of docs/model-format.md ("The n-gram part"), written from the text alone."""
    base = len(tokens) + 1
    index = {int(k): j for j, k in enumerate(keys)}
    out = []
    for line in ids:
        seq = [0] + [0 if level == "char" and i >= 2 and tokens[i].isspace() else int(i)
                     for i in line] + [0]
        tf = {}
        for k in range(1, n + 1):
            for p in range(len(seq) - k + 1):
                run = seq[p:p + k]
                if level == "word" and 0 in run:
                    continue
                if level == "char" and (0 in run[1:-1] or not any(run)):
                    continue
                key = sum((t + 1) * base ** i for i, t in enumerate(run))
                if key in index:
                    tf[index[key]] = tf.get(index[key], 0) + 1
        g = np.zeros(len(keys))
        for j, c in tf.items():
            g[j] = (1 + np.log(c)) * idf[j]
        out.append(g / np.linalg.norm(g) if g.any() else g)
    return np.array(out)


@pytest.mark.parametrize("level", ["char", "word"])
def test_rows_match_a_port_of_the_format_document(level, rng):
    if level == "char":
        tokens = ["<pad>", "<unk>", " ", "\t", "a", "b", "c", "d"]
        lines = [rng.choice(np.arange(1, 8), size=int(rng.integers(1, 12))) for _ in range(30)]
    else:
        tokens = ["<pad>", "<unk>", "the", "film", "is", "good", "bad"]
        lines = [rng.choice(np.arange(1, 7), size=int(rng.integers(1, 9))) for _ in range(30)]
    table = NgramTable.build(lines, level, 3, len(tokens), marks_of(tokens, level))
    assert len(table.keys) > 10
    want = port_rows(lines, tokens, level, 3, table.keys, table.idf)
    assert np.allclose(table.rows(lines).dense(), want)
