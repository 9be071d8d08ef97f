"""Tabular data: any CSV table, read safely and understood column by column.

- :mod:`~torchbasics.tabular.csvfile`: a CSV's cells as text, every problem one line;
- :mod:`~torchbasics.tabular.schema`: what each column holds, the task, and the fitted
  encoding (standardization, one-hot, missing values) a model's checkpoint keeps;
- :mod:`~torchbasics.tabular.source`: a table to train on, declared or inferred;
- :mod:`~torchbasics.tabular.table`: declared numeric columns checked cell by cell;
- :mod:`~torchbasics.tabular.bonus`: the employee-bonus data, its true rule and generator;
- :mod:`~torchbasics.tabular.prepare`: seeded train/validation/test split, standardization,
  batches of rows;
- :mod:`~torchbasics.tabular.formula`: the learned formula in original units, least squares.

Training a table run is :mod:`torchbasics.runs.tables`; predicting with one is
:mod:`torchbasics.inference.table`.
"""
