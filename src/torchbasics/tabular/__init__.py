"""Tabular regression: CSV tables checked cell by cell, linear regression trained with SGD.

- :mod:`~torchbasics.tabular.table`: reading and checking numeric CSV columns;
- :mod:`~torchbasics.tabular.bonus`: the employee-bonus data, its true rule and generator;
- :mod:`~torchbasics.tabular.prepare`: seeded train/validation/test split, standardization;
- :mod:`~torchbasics.tabular.formula`: the learned formula in original units, least squares;
- :mod:`~torchbasics.runs.regression`: training end to end, writing a run directory;
- :mod:`~torchbasics.tabular.predict`: predictions from a run's checkpoint.
"""
