"""The scorer: hand-worked examples, and seqeval (default mode) as an oracle."""

import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charlm.errors import InputError
from charlm.tagger.evaluate import score
from conftest import shared_file


def test_pos_accuracy_per_tag_and_confusions():
    gold = [["DET", "NOUN", "VERB"], ["NOUN", "NOUN"]]
    pred = [["DET", "VERB", "VERB"], ["NOUN", "ADJ"]]
    r = score(gold, pred)
    assert r["tokens"] == 5 and r["sentences"] == 2
    assert r["accuracy"] == pytest.approx(3 / 5)
    assert "entities" not in r
    # NOUN: gold 3, predicted 1, correct 1 → P 1, R 1/3, F1 0.5
    assert r["per_tag"]["NOUN"] == {"precision": 1.0, "recall": pytest.approx(1 / 3),
                                    "f1": pytest.approx(0.5), "support": 3}
    # VERB: gold 1, predicted 2, correct 1
    assert r["per_tag"]["VERB"]["precision"] == 0.5
    assert r["per_tag"]["ADJ"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["confusions"] == [["NOUN", "ADJ", 1], ["NOUN", "VERB", 1]]


def test_entities_hand_worked():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"],
            ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"],    # PER right, LOC too long
            ["I-ORG", "O", "O"]]                          # leading I- counts: ORG right
    e = score(gold, pred)["entities"]
    # gold 4 (PER, LOC, ORG, PER), predicted 3 (PER, LOC[3:5], ORG), correct 2
    assert (e["gold"], e["predicted"], e["correct"]) == (4, 3, 2)
    assert e["precision"] == pytest.approx(2 / 3)
    assert e["recall"] == pytest.approx(2 / 4)
    assert e["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert e["per_type"]["PER"] == {"precision": 1.0, "recall": 0.5,
                                    "f1": pytest.approx(2 / 3), "gold": 2, "predicted": 1,
                                    "correct": 1}
    assert e["per_type"]["LOC"]["correct"] == 0


def test_iob1_and_iob2_predictions_score_alike():
    gold = [["B-PER", "I-PER", "B-PER", "O"]]
    as_iob1 = [["I-PER", "I-PER", "B-PER", "O"]]
    assert score(gold, as_iob1)["entities"]["f1"] == 1.0
    assert score(gold, as_iob1)["accuracy"] == 0.75     # tokens are still compared as is


def test_type_mismatch_and_nothing_predicted():
    e = score([["B-PER", "I-PER"]], [["B-LOC", "I-LOC"]])["entities"]
    assert (e["precision"], e["recall"], e["f1"]) == (0.0, 0.0, 0.0)
    e = score([["B-PER"]], [["O"]])["entities"]
    assert e["predicted"] == 0 and e["precision"] == 0.0


def test_scheme_argument():
    assert "entities" not in score([["B-PER"]], [["B-PER"]], scheme=None)
    assert "entities" in score([["O"]], [["O"]], scheme="iob2")
    assert "entities" not in score([["O"]], [["O"]])       # all O: not an entity tag set


def test_mismatched_shapes_are_input_errors():
    with pytest.raises(InputError, match="2 gold sentences but 1"):
        score([["A"], ["B"]], [["A"]])
    with pytest.raises(InputError, match="sentence 2: 2 gold tags but 1"):
        score([["A"], ["B", "C"]], [["A"], ["B"]])


def test_confusions_are_capped_and_sorted():
    gold = [[f"T{i}" for i in range(30)] * 2]
    pred = [[f"P{i}" for i in range(30)] + ["T0"] * 30]
    conf = score(gold, pred)["confusions"]
    assert len(conf) == 20
    assert conf[0][2] >= conf[-1][2]


# --- seqeval as an oracle ------------------------------------------------------------

seqeval_metrics = pytest.importorskip("seqeval.metrics")
TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "E-PER", "S-LOC"]


def seqeval_scores(gold, pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # seqeval warns on 0/0
        return (seqeval_metrics.precision_score(gold, pred),
                seqeval_metrics.recall_score(gold, pred),
                seqeval_metrics.f1_score(gold, pred))


def assert_matches_seqeval(gold, pred):
    e = score(gold, pred, scheme="iob2")["entities"]
    p, r, f = seqeval_scores(gold, pred)
    assert e["precision"] == pytest.approx(p, abs=1e-12)
    assert e["recall"] == pytest.approx(r, abs=1e-12)
    assert e["f1"] == pytest.approx(f, abs=1e-12)
    report = seqeval_metrics.classification_report(gold, pred, output_dict=True,
                                                    zero_division=0)
    for t, d in e["per_type"].items():
        if d["gold"]:
            assert d["precision"] == pytest.approx(report[t]["precision"], abs=1e-12)
            assert d["recall"] == pytest.approx(report[t]["recall"], abs=1e-12)
            assert d["gold"] == report[t]["support"]


@st.composite
def gold_and_pred(draw):
    lengths = draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    gold = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n)) for n in lengths]
    return gold, pred


@settings(max_examples=150, deadline=None)
@given(gold_and_pred())
def test_entity_scores_match_seqeval_on_random_sequences(pair):
    gold, pred = pair
    if not any(t != "O" for s in gold for t in s):
        gold[0][0] = "B-PER"
    assert_matches_seqeval(gold, pred)


@pytest.mark.realdata
def test_entity_scores_match_seqeval_on_uner_dev_with_corruptions():
    from charlm.text.conll import read_tagged
    path = shared_file("tagging/uner_en_ewt/en_ewt-ud-dev.iob2")
    gold = [s.tags for s in read_tagged(str(path))]
    assert len(gold) > 1000
    rnd = random.Random(7)
    for rate in (0.0, 0.1):
        pred = [[rnd.choice(TAGS) if rnd.random() < rate else t for t in s] for s in gold]
        assert_matches_seqeval(gold, pred)
        if rate == 0.0:
            assert score(gold, pred)["entities"]["f1"] == 1.0


def test_raw_text_score_counts_only_tokens_that_align():
    from charlm.tagger.evaluate import matching_tokens, raw_text_score
    # text "can't go": gold ca|n't|go, ours can't|go (one token missed)
    gold_spans = [[(0, 2), (2, 5), (6, 8)]]
    pred_spans = [[(0, 5), (6, 8)]]
    assert matching_tokens(gold_spans[0], pred_spans[0]) == [(2, 1)]
    r = raw_text_score([["AUX", "PART", "VERB"]], gold_spans, [["AUX", "NOUN"]], pred_spans)
    assert r == {"gold_tokens": 3, "aligned": 1, "accuracy_aligned": 0.0,
                 "accuracy_all": 0.0}
    r = raw_text_score([["AUX", "PART", "VERB"]], gold_spans, [["AUX", "VERB"]], pred_spans)
    assert r["accuracy_aligned"] == 1.0 and r["accuracy_all"] == pytest.approx(1 / 3)
