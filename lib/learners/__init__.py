"""The learners: policy gradient (:mod:`.pg`), soft actor-critic (:mod:`.sac`) and the one supervised
learner for behaviour cloning and DAgger (:mod:`.imitation`), each ``train(cfg, seed, out_dir) ->
Summary`` (:mod:`.contract`). They import nothing of the run store, the sections or the publishing
code; their building blocks are :mod:`lib.policies` (below them: the shipped experts use it too),
:mod:`.heads` and :mod:`.returns`.
"""
