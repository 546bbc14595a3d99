"""rl-workbook's shared library: the learners, the run store, statistics and report export.

Modules (see DESIGN in the README): ``config`` and ``params`` (validated, frozen parameters),
``envs``, ``nets``, ``rollout``, ``returns``, ``pg`` (the one policy-gradient learner),
``runs`` (run store, grid, executors), ``stats``, ``plots``, ``report``, ``workbook`` (driver)
and ``sections/`` (one module per report section).
"""
