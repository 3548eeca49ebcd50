"""The NumPy mathematics, and nothing else: it imports no other part of charlm.

Three tiers, each forward next to its backward (notes: "Recurrent neural networks"):

* :mod:`~charlm.engine.ops`: stateless primitives (affine, lookup, dropout, stable
  sigmoid and log-softmax, softmax cross-entropy with a mask, gradient clipping);
* :mod:`~charlm.engine.cells`: one time step of the RNN, GRU (Γ_u, Γ_r) and LSTM
  cells with fused gate matrices;
* :mod:`~charlm.engine.layers`: the time loop over a window (BPTT);
* :mod:`~charlm.engine.bidirectional`: both directions over padded sentences, each
  reversed only within its real length, and character features of words;
* :mod:`~charlm.engine.optim`: SGD and Adam, their state keyed by parameter name.
"""
