"""rl-workbook's shared library: the learners, the run store, statistics and report export.

Modules (see DESIGN in the README): ``config`` and ``params`` (validated, frozen parameters),
``envs``, ``nets``, ``rollout``, ``returns``, ``pg`` (the one policy-gradient learner),
``runs`` (run store, grid, executors), ``stats``, ``plots``, ``report``, ``workbook`` (driver)
and ``sections/`` (one module per report section).
"""


def _show_config_errors_briefly() -> None:
    """In an IPython kernel (a notebook, papermill), show a bad parameter as its message alone, not as
    a long traceback: a ConfigError already names the file or override, the key and what is allowed."""
    import sys

    ipython = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if ipython is None:
        return
    from .config import ConfigError

    def brief(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's handler signature
        stb = [f"{etype.__name__}: {value}"]
        shell._showtraceback(etype, value, stb)  # what the notebook shows and the kernel replies
        return stb

    ipython.set_custom_exc((ConfigError,), brief)


_show_config_errors_briefly()
