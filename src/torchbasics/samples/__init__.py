"""What every data set's samples share, whatever they hold (pixels or a table's rows).

- :mod:`~torchbasics.samples.classes`: the order of named classes, the one rule for class
  folders, list-file labels and a table's target column;
- :mod:`~torchbasics.samples.splits`: seeded splits of sample indices, stratified by class;
- :mod:`~torchbasics.samples.batches`: which samples make up each batch of an epoch, the
  bookkeeping every batch loader shares.

The lowest part of the data layer: tables (:mod:`torchbasics.tabular`) and the data sets
(:mod:`torchbasics.data`) build on it, and it knows neither.
"""
