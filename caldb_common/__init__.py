"""What the server, the CaDBIO client and the pipeline bricks share that is not selection.

Standard library only, imports nothing of ours: every other package of the project may
depend on it, so it sits below all of them (see ``docs/architecture.md``). Its modules are
where the project's data directories are (``resources``), the API prefix both sides of the
HTTP boundary use (``api``), replacing a file atomically (``atomic``), the sha256 of a file
(``digest``), the one rule for text the system is given (``text``), the one-line answer
of a console script whose extra is missing (``extras``) and the ``error:`` line and exit
code every command line ends a failure with (``console``).
"""
