"""How fast `charlm score` runs: characters per second scored by a 2-layer, 256-unit
char LSTM, in the two framings, against PyTorch's teacher-forced forward of the same
model where PyTorch is installed.

    python benchmarks/score_speed.py [--lines 20000] [--repeats 3] [--batch 256]

Input: lines of ../shared/corpora/text/tinyshakespeare.txt (or generated text when
that is absent). Target (this project's 2-core machine): >= 50,000 chars/s in lines
framing. Timings alternate between the contenders; medians are printed.
"""

import argparse
import sys

import numpy as np

from common import SHARED, alternate, char_lstm, header, median, torch_lstm_from, torch_onehot


def corpus_lines(n):
    path = SHARED / "text" / "tinyshakespeare.txt"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        rng = np.random.default_rng(0)
        words = ["".join(rng.choice(list("etaoinshrdlu"), rng.integers(2, 9)))
                 for _ in range(500)]
        text = "\n".join(" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(n))
    lines = [line for line in text.split("\n") if line]
    return (lines * (1 + n // max(1, len(lines))))[:n], text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    header("charlm score speed: 2-layer 256-unit char LSTM")
    from charlm.lm.scoring import Scorer
    from charlm.text.tokens import TextConfig
    from charlm.text.vocab import Vocab

    lines, text = corpus_lines(a.lines)
    chars = sum(len(line) + 1 for line in lines)
    vocab = Vocab(["<eos>", "<unk>"] + sorted(set(text) - {"\n"}) + ["\n"])
    model = char_lstm(len(vocab))
    print(f"# {len(lines)} lines, {chars} characters (line ends included), V = {len(vocab)}")

    def charlm_lines():
        for _ in Scorer(model, vocab, TextConfig(split="lines"), batch_lines=a.batch).score(lines):
            pass

    stream_lines = lines[: max(1, len(lines) // 10)]
    stream_chars = sum(len(line) + 1 for line in stream_lines)

    def charlm_stream():
        for _ in Scorer(model, vocab, TextConfig(split="none")).score(stream_lines):
            pass

    fns = {"charlm lines": charlm_lines, "charlm stream": charlm_stream}
    torch_model = torch_lstm_from(model)
    if torch_model is not None:
        torch, lstm, out = torch_model
        torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
        batches = []
        for b0 in range(0, len(lines), a.batch):
            batch = sorted(lines[b0:b0 + a.batch], key=len, reverse=True)
            ids = [[vocab.index.get(c, 1) for c in line] + [0] for line in batch]
            T = max(len(i) for i in ids)
            y = np.zeros((T, len(ids)), dtype=np.int64)
            for n, i in enumerate(ids):
                y[:len(i), n] = i
            x = np.zeros_like(y)
            x[1:] = y[:-1]
            batches.append((torch_onehot(torch, x, len(vocab)), torch.from_numpy(y)))

        def pytorch_lines():
            with torch.no_grad():
                for x, y in batches:
                    h, _ = lstm(x)
                    logp = torch.log_softmax(out(h), dim=-1)
                    logp.gather(2, y[..., None])

        fns["pytorch lines"] = pytorch_lines
        # Correctness: the same model gives the same log-probabilities.
        s = next(iter(Scorer(model, vocab, TextConfig(split="lines")).score(lines[:1])))
        with torch.no_grad():
            x = torch_onehot(torch, np.array([[0] + list(s.ids[:-1])]).T, len(vocab))
            lp = torch.log_softmax(out(lstm(x)[0]), dim=-1)[:, 0, :]
            ref = float(lp.gather(1, torch.from_numpy(s.ids)[:, None]).sum())
        print(f"# check: first line log-prob charlm {s.total:.5f}, pytorch {ref:.5f}")
    else:
        print("# PyTorch is not installed: no comparison")

    times = alternate(fns, a.repeats)
    rates = {}
    for name, ts in times.items():
        n = stream_chars if "stream" in name else chars
        rates[name] = n / median(ts)
        print(f"{name:15s} {rates[name]:>10,.0f} chars/s   (median of {len(ts)}: "
              f"{median(ts):.2f} s for {n:,} chars)")
    if "pytorch lines" in rates:
        print(f"charlm / pytorch (lines): {rates['charlm lines'] / rates['pytorch lines']:.2f}")
    ok = rates["charlm lines"] >= 50000
    print(f"target >= 50,000 chars/s in lines framing: {'met' if ok else 'NOT met'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
