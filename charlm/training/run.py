"""What every training run shares, whatever it trains: where its files go, which
settings a resumed run may change, and how the carried state is stored.

The language model's run (:mod:`charlm.lm.session`) and the tagger's use these, so a
model file, a checkpoint and ``--resume`` behave the same for both.
"""

from __future__ import annotations

import os
import secrets

from charlm.errors import UsageError
from charlm.files import check_writable, checkpoint_path  # noqa: F401 (the runs' import)
from charlm.training.trainer import RESUME_MAY_CHANGE


def check_output(path):
    """Refuse an output path that can never be written, before any work is done."""
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{path}: directory {parent} does not exist")
    check_writable(path)


def physical_memory():
    """Bytes of memory in the machine, or None when unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes, what="training this model"):
    """Refuse settings that could never fit in memory, before anything is allocated
    (an absurd --hidden or --batch-size would otherwise end in a MemoryError, or
    worse, in swapping)."""
    total = physical_memory()
    if total and nbytes > 0.9 * total:
        raise UsageError(f"{what} needs about {nbytes / 1e9:,.1f} GB of memory but this "
                         f"machine has {total / 1e9:,.1f} GB; use smaller sizes (--hidden, "
                         "--layers, --embed, --batch-size, --seq-len, -n)")


def check_outputs(output, checkpoint):
    for path in (output, checkpoint):
        check_output(path)
    if os.path.abspath(output) == os.path.abspath(checkpoint):
        raise UsageError("the checkpoint and the model file must be different files")


def apply_overrides(cfg_dict, fixed, overrides):
    """The training settings of a resumed run.

    ``cfg_dict``: the saved TrainConfig as a dict; ``fixed``: settings of the model and
    its data that can never change; ``overrides``: what the user gave explicitly.
    Settings in RESUME_MAY_CHANGE take their new values; any other difference is
    refused. Returns (new cfg_dict, [(setting, old, new), ...]).
    """
    cfg_dict = dict(cfg_dict)
    changes, refused = [], []
    for key, new in (overrides or {}).items():
        old = cfg_dict[key] if key in cfg_dict else fixed.get(key)
        if new == old:
            continue
        if key in RESUME_MAY_CHANGE:
            changes.append((key, old, new))
            cfg_dict[key] = new
        elif key in cfg_dict or key in fixed:
            refused.append(f"--{key.replace('_', '-')} {old} → {new}")
    if refused:
        raise UsageError("cannot resume with a different " + ", ".join(refused) +
                         ": that changes the model or its data; start a new run instead")
    return cfg_dict, changes


def carried_from_arrays(extra, layers, names):
    """The hidden state a checkpoint carried into the next window, or None.
    ``names``: the state's parts per layer, ("a",) or ("a", "c") for the LSTM."""
    if "carried/layer1.a" not in extra:
        return None
    return [tuple(extra[f"carried/layer{l}.{n}"] for n in names) for l in range(1, layers + 1)]


def resume_outputs(run_info, output, changes, what):
    """Where a resumed run writes, and which of those files the caller must still check
    are this run's own before replacing them.

    ``output``: a new output path given on resume (recorded in ``changes``), or None.
    ``what``: what the output file is called in messages ("model file", "tagger
    file"). A checkpoint from before runs had ids gets one now, and its own files
    count as its run's. Returns [(path, what), ...] for ``validate.check_replace``.
    """
    owned = set()
    if run_info.get("run_id") is None:
        run_info["run_id"] = secrets.token_hex(8)
        owned = {os.path.abspath(run_info["output"]), os.path.abspath(run_info["checkpoint"])}
    if output is not None and output != run_info["output"]:
        changes.append(("output", run_info["output"], output))
        run_info["output"] = output
    check_outputs(run_info["output"], run_info["checkpoint"])
    return [(path, kind) for path, kind in ((run_info["output"], what),
                                            (run_info["checkpoint"], "checkpoint"))
            if os.path.abspath(path) not in owned]


# --- what the runs of independent examples (tagger, classifier) share --------------------

def held_out(items, fraction, rng):
    """(kept, held out): a random ``fraction`` of ``items`` held out for validation
    when no dev file is given; none when that would leave nothing on either side."""
    n = len(items)
    k = int(round(n * fraction))
    if k == 0 or k >= n:
        return items, []
    held = set(rng.permutation(n)[:k].tolist())
    return ([e for i, e in enumerate(items) if i not in held],
            [e for i, e in enumerate(items) if i in held])


def saving(run_info, train_cfg, write):
    """The trainer's ``save_model(training)`` and ``save_checkpoint(trainer)`` for a run
    described by ``run_info``. ``write(path, checkpoint, training, extra)`` writes the
    model's file (``checkpoint``: of the checkpoint kind, with ``extra`` arrays). The
    training record gets the run's sources, command, resumes and id; a checkpoint's
    also everything ``resume`` needs."""
    sources = [p for p in (run_info["train"], run_info["dev"]) if p]

    def info(training):
        return dict(training, sources=sources, command=run_info["command"],
                    resumed_with=run_info.get("resumed_with") or [],
                    run_id=run_info.get("run_id"))

    def save_model(training):
        write(run_info["output"], False, info(training), {})

    def save_checkpoint(trainer):
        training = info(trainer.training_info())
        training["resume"] = {"state": trainer.checkpoint_state(),
                              "config": train_cfg.to_dict(), "run": run_info}
        write(run_info["checkpoint"], True, training, trainer.checkpoint_arrays())
        return run_info["checkpoint"]

    return save_model, save_checkpoint


def saved_run(bundle, path, checkpoint_kind, noun):
    """(TrainConfig dict, TrainState dict, run_info) of the checkpoint ``bundle``
    read from ``path``; a model file instead of its checkpoint is refused."""
    from charlm.errors import ModelFileError

    if bundle.kind != checkpoint_kind:
        raise UsageError(f"{path}: is a {noun}, not a checkpoint; resume from the "
                         "checkpoint written next to it (NAME.ckpt.npz)")
    try:
        saved = bundle.training["resume"]
        return saved["config"], saved["state"], dict(saved["run"])
    except (KeyError, TypeError):
        raise ModelFileError(f"{path}: the checkpoint lacks its resume information") from None


def continued(run_info, train_path=None, dev_path=None, command=None, log_file=None):
    """``run_info`` of a resumed run: new data paths (the same data, checked by its
    fingerprint), the command that resumed it, another log file."""
    if train_path:
        run_info["train"] = train_path
    if dev_path:
        run_info["dev"] = dev_path
    if command:
        run_info["resumed_with"] = list(run_info.get("resumed_with") or []) + [command]
    if log_file is not None:
        run_info["log_file"] = log_file
    return run_info


def optimizer_moments(extra):
    """The optimiser's moments among a checkpoint's extra arrays, by parameter name."""
    return {k[len("optimizer/"):]: v for k, v in extra.items() if k.startswith("optimizer/")}


def fingerprint(id_arrays):
    """16 bytes of BLAKE2b over integer arrays (each with its length first): what a
    resumed run checks its data against, so changed files are never trained on as if
    they were the same."""
    import hashlib

    import numpy as np

    h = hashlib.blake2b(digest_size=16)
    for ids in id_arrays:
        h.update(len(ids).to_bytes(4, "little"))
        h.update(np.ascontiguousarray(ids).data)
    return h.hexdigest()
