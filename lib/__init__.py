"""rl-workbook's library. Where things live (the README's map says more):

- ``policies``: the networks and their samplers (categorical and Gaussian policies, the value net,
  SAC's actor), below the data and the learners, which both use them;
- ``learners/``: the three learners, each ``train(cfg, seed, out_dir) -> Summary`` (``pg``, ``sac``,
  ``imitation``), the imitation heads (``heads``) and return estimators (``returns``);
- ``data/``: environments (``envs``), episode collection (``rollout``), shipped experts (``experts``)
  and their demonstrations (``datasets``);
- ``evaluation``: the one evaluation; ``seeds``: the seeds table;
- ``store/``: the run store (``runs``) and the grid that fills it (``grid``);
- ``stats``: statistics over seeds;
- ``sections/``: one module per report section, the protocol they keep (``protocol``) and the few
  calls every notebook makes (``run``);
- ``publish/``: results files, tables and verdicts, figures, animations, HTML, PDF, the index;
- ``config``, ``params``, ``checks``: parameters, profiles and input checks; ``paths`` and
  ``provenance``: where things are and what made them; ``workbook`` and ``assignment``: the
  command lines.
"""
