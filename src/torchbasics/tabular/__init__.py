"""Tabular data: CSV tables checked cell by cell, and what a linear fit on them means.

- :mod:`~torchbasics.tabular.table`: reading and checking numeric CSV columns;
- :mod:`~torchbasics.tabular.bonus`: the employee-bonus data, its true rule and generator;
- :mod:`~torchbasics.tabular.prepare`: seeded train/validation/test split, standardization;
- :mod:`~torchbasics.tabular.formula`: the learned formula in original units, least squares.

Training a regression run is :mod:`torchbasics.runs.regression`; predicting with one is
:mod:`torchbasics.inference.regressor`.
"""
