"""Writers for `charlm score`: one class per output format.

Each writer gets ``row(score)`` for every line in input order and ``summary(d)`` at
the end; it decides what goes to stdout (data) and what to stderr (the summary in
the table formats, so stdout stays a clean table).
"""

import json
import math

from rich.console import Console
from rich.text import Text

from charlm.text.tokens import Detokenizer, display_token

# Surprisal bands (bits) and their background colours for --heatmap.
HEAT = [(1, "#1a9850"), (2, "#91cf60"), (4, "#d9ef8b"), (6, "#fee08b"), (8, "#fc8d59"),
        (12, "#e34a33"), (math.inf, "#b30000")]


def _fmt(x, digits=6):
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def token_records(s, vocab):
    bits = s.surprisals()
    return [{"token": t, "id": int(i), "logprob": float(lp), "prob": float(math.exp(lp)),
             "surprisal_bits": float(b), "oov": bool(o)}
            for t, i, lp, b, o in zip(s.tokens, s.ids, s.logprobs, bits, s.oov)]


def line_record(s, per_token, vocab):
    rec = {"text": s.text, "log10prob": s.log10prob, "logprob": s.total,
           "tokens": s.n_tokens, "oovs": s.n_oov, "perplexity": s.perplexity,
           "bits_per_char": s.bits_per_char}
    if per_token:
        rec["token_scores"] = token_records(s, vocab)
    return rec


def summary_text(d):
    return (f"{d['lines']} lines, {d['tokens']} tokens, {d['oovs']} OOVs: perplexity "
            f"{d['perplexity']:.4f} (excluding OOVs {d['perplexity_excluding_oovs']:.4f}), "
            f"{d['bits_per_token']:.4f} bits/token, {d['bits_per_char']:.4f} bits/char")


class Writer:
    summary_on_stdout = False

    def __init__(self, out, err, per_token, vocab, text_cfg, summary_only=False):
        self.out, self.err = out, err
        self.per_token = per_token
        self.vocab = vocab
        self.text_cfg = text_cfg
        self.summary_only = summary_only

    def start(self):
        pass

    def row(self, s):
        pass

    def summary(self, d):
        if self.summary_only:
            self.out.write(summary_text(d) + "\n")
        else:
            self.err.print(summary_text(d), markup=False, highlight=False)


class TsvWriter(Writer):
    def start(self):
        if not self.summary_only:
            cols = ["log10prob", "logprob", "tokens", "oovs", "perplexity", "bits_per_char"]
            if self.per_token:
                cols.append("surprisal_bits")
            self.out.write("\t".join(cols + ["text"]) + "\n")

    def row(self, s):
        if self.summary_only:
            return
        cells = [_fmt(s.log10prob), _fmt(s.total), str(s.n_tokens), str(s.n_oov),
                 _fmt(s.perplexity, 4), _fmt(s.bits_per_char, 4)]
        if self.per_token:
            cells.append(" ".join(f"{b:.3f}" for b in s.surprisals()))
        text = s.text.replace("\\", "\\\\").replace("\t", "\\t")
        self.out.write("\t".join(cells + [text]) + "\n")


class TextWriter(Writer):
    """Aligned columns for people (the default on a terminal)."""

    def start(self):
        if not self.summary_only:
            self.out.write(f"{'log10prob':>11} {'tokens':>6} {'oovs':>4} {'perplexity':>11} "
                           f"{'bits/char':>9}  text\n")

    def row(self, s):
        if self.summary_only:
            return
        self.out.write(f"{s.log10prob:>11.4f} {s.n_tokens:>6} {s.n_oov:>4} "
                       f"{s.perplexity:>11.3f} {s.bits_per_char:>9.3f}  {s.text}\n")
        if self.per_token:
            parts = [f"{display_token(t)}:{b:.2f}" for t, b in zip(s.tokens, s.surprisals())]
            self.out.write(" " * 12 + " ".join(parts) + "\n")


class JsonlWriter(Writer):
    def row(self, s):
        if not self.summary_only:
            self.out.write(json.dumps(line_record(s, self.per_token, self.vocab),
                                      ensure_ascii=False) + "\n")

    def summary(self, d):
        if self.summary_only:
            self.out.write(json.dumps(d) + "\n")
        else:
            super().summary(d)


class JsonWriter(JsonlWriter):
    """JSON lines, then the summary as the last object: {"summary": {...}}."""

    summary_on_stdout = True

    def summary(self, d):
        self.out.write(json.dumps(d if self.summary_only else {"summary": d}) + "\n")


class KenlmWriter(Writer):
    """The layout of KenLM's `query`: per token `surface=id n log10prob` and a TAB,
    `Total: <log10> OOV: <n>` per line, then the corpus summary (on stdout, as
    KenLM prints it). n is the number of tokens the prediction was conditioned on,
    plus one (the n-gram order an n-gram model would need)."""

    summary_on_stdout = True

    def row(self, s):
        if self.summary_only:
            return
        parts = []
        log10 = s.logprobs * (1.0 / math.log(10.0))
        for k, (tok, i, lp) in enumerate(zip(s.tokens, s.ids, log10)):
            surface = "</s>" if tok in ("<eos>",) else display_token(tok)
            parts.append(f"{surface}={int(i)} {s.context + k + 1} {lp:.6g}\t")
        self.out.write("".join(parts) + f"Total: {s.log10prob:.6g} OOV: {s.n_oov}\n")

    def summary(self, d):
        self.out.write(f"Perplexity including OOVs:\t{d['perplexity']:.6g}\n"
                       f"Perplexity excluding OOVs:\t{d['perplexity_excluding_oovs']:.6g}\n"
                       f"OOVs:\t{d['oovs']}\n"
                       f"Tokens:\t{d['tokens']}\n")


class HeatmapWriter(Writer):
    """Each line with every token coloured by its surprisal, for a terminal."""

    def __init__(self, *a, color=True, **kw):
        super().__init__(*a, **kw)
        self.con = Console(file=self.out, highlight=False, soft_wrap=True,
                           force_terminal=color, no_color=not color,
                           color_system="truecolor" if color else None)
        self.color = color

    @staticmethod
    def style(bits):
        for limit, colour in HEAT:
            if bits < limit:
                return f"black on {colour}"
        return HEAT[-1][1]

    def start(self):
        if self.summary_only or not self.color:
            return
        legend = Text("surprisal, bits per token: ")
        low = 0
        for limit, colour in HEAT:
            label = f"≥{low}" if math.isinf(limit) else f"{low}–{limit}"
            legend.append(f" {label} ", style=f"black on {colour}")
            legend.append(" ")
            low = limit
        self.con.print(legend)

    def row(self, s):
        if self.summary_only:
            return
        line = Text()
        detok = Detokenizer(self.text_cfg)
        for tok, b in zip(s.tokens, s.surprisals()):
            if tok in ("<eos>", "\n"):
                piece = "↵"
            else:
                piece = detok.feed(tok)
            lead = len(piece) - len(piece.lstrip(" ")) if self.text_cfg.level == "word" else 0
            if lead:
                line.append(piece[:lead])
                piece = piece[lead:]
            line.append(piece, style=self.style(b) if self.color else None)
        line.append(f"  {s.bits_per_char:.2f} bits/char", style="dim" if self.color else None)
        self.con.print(line)


WRITERS = {"text": TextWriter, "tsv": TsvWriter, "jsonl": JsonlWriter, "json": JsonWriter,
           "kenlm": KenlmWriter}
