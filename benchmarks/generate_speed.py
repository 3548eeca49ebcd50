"""How fast `charlm generate` samples: tokens per second of a 2-layer, 256-unit char
LSTM, one stream and 256 streams at once, against PyTorch sampling the same model
step by step where PyTorch is installed.

    python benchmarks/generate_speed.py [--repeats 3] [--tokens 3000] [--batch 256]

Targets (this project's 2-core machine): >= 8,000 tokens/s in a single stream and
>= 100,000 tokens/s summed over a batch of 256. Contenders run in turns; medians
are printed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import alternate, char_lstm, header, median, torch_lstm_from, torch_onehot


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=3000, help="tokens per single stream")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200, help="steps of the batched run")
    a = ap.parse_args()
    header("charlm generate speed: 2-layer 256-unit char LSTM")
    from charlm.store import modelfile
    from charlm.lm.sampling import sample
    from charlm.text.tokens import TextConfig
    from charlm.text.vocab import Vocab

    vocab = Vocab(["<eos>", "<unk>"] + [chr(c) for c in range(32, 127)] + ["\n"])
    model = char_lstm(len(vocab))
    cfg = TextConfig(split="none")

    def engine(K, L):
        def run():
            n = 0
            for p in sample(model, vocab, cfg, num_samples=K, length=L,
                            rng=np.random.default_rng(1)):
                n += not p.end
            assert n == K * L
        return run

    fns = {"charlm 1 stream": engine(1, a.tokens),
           f"charlm {a.batch} streams": engine(a.batch, a.steps)}
    counts = {"charlm 1 stream": a.tokens, f"charlm {a.batch} streams": a.batch * a.steps}

    tm = torch_lstm_from(model)
    if tm is not None:
        torch, lstm, out = tm
        torch.set_num_threads(len(os.sched_getaffinity(0)))

        def torch_run(K, L):
            def run():
                g = torch.Generator().manual_seed(1)
                with torch.no_grad():
                    x = torch_onehot(torch, np.zeros((1, K), dtype=np.int64), len(vocab))
                    hc = None
                    for _ in range(L):
                        h, hc = lstm(x, hc)
                        p = torch.softmax(out(h[0]), dim=-1)
                        p[:, :2] = 0.0                       # no EOS, no UNK
                        nxt = torch.multinomial(p, 1, generator=g)[:, 0]
                        x = torch.nn.functional.one_hot(nxt, len(vocab)).float()[None]
            return run

        fns["pytorch 1 stream"] = torch_run(1, a.tokens)
        fns[f"pytorch {a.batch} streams"] = torch_run(a.batch, a.steps)
        counts["pytorch 1 stream"] = a.tokens
        counts[f"pytorch {a.batch} streams"] = a.batch * a.steps
    else:
        print("# PyTorch is not installed: no comparison")

    times = alternate(fns, a.repeats)
    rates = {name: counts[name] / median(ts) for name, ts in times.items()}
    for name, r in rates.items():
        print(f"{name:22s} {r:>10,.0f} tokens/s   (median of {len(times[name])}: "
              f"{median(times[name]):.2f} s)")

    # The whole command, output included, for one stream: charlm generate > /dev/null.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.npz")
        modelfile.save(path, modelfile.Bundle(model, vocab, cfg))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "charlm", "generate", "-m", path, "-l",
                        str(a.tokens * 3), "--seed", "1"], stdout=subprocess.DEVNULL,
                       check=True)
        dt = time.perf_counter() - t0
        print(f"{'charlm CLI 1 stream':22s} {a.tokens * 3 / dt:>10,.0f} tokens/s   "
              f"(whole command incl. start-up, {a.tokens * 3} tokens to /dev/null)")

    single = rates["charlm 1 stream"]
    batch = rates[f"charlm {a.batch} streams"]
    if "pytorch 1 stream" in rates:
        print(f"charlm / pytorch: 1 stream {single / rates['pytorch 1 stream']:.1f}x, "
              f"{a.batch} streams {batch / rates[f'pytorch {a.batch} streams']:.2f}x")
    print(f"target >= 8,000 tokens/s single stream: {'met' if single >= 8000 else 'NOT met'}")
    print(f"target >= 100,000 tokens/s over {a.batch} streams: "
          f"{'met' if batch >= 100000 else 'NOT met'}")


if __name__ == "__main__":
    main()
