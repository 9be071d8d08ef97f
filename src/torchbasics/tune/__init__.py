"""``torchbasics tune``: the settings that train best on your data, searched with Optuna.

:mod:`.space` makes the search space from the settings' declarations, :mod:`.study` keeps
the study in a database (a file in the tune folder, or one shared by several machines),
:mod:`.trials` runs one trial as a normal training run, :mod:`.session` runs the trials of one
command, :mod:`.report` writes the leaderboard and figures, and :mod:`.search` is the entry
point, :func:`~torchbasics.tune.search.tune`.
"""
