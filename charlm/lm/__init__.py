"""The language model: stacked recurrent layers and a softmax over the engine
(:mod:`~charlm.lm.model`), sampling (:mod:`~charlm.lm.sampling`), scoring
(:mod:`~charlm.lm.scoring`), and a run from corpus to model file
(:mod:`~charlm.lm.session`).
"""
