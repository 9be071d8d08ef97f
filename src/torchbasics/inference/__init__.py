"""Using a trained model: pictures or table rows in, predictions out; exported files.

``loading`` opens a run directory and is the one place that tells the kinds of model
apart; ``predictor`` holds the :class:`~torchbasics.inference.predictor.Classifier` and
``preprocess`` turns any picture into its input; ``table`` holds the table models
(:class:`~torchbasics.inference.table.Regressor`,
:class:`~torchbasics.inference.table.TableClassifier`); ``export`` writes deployable files and
``runtimes`` runs them in ONNX Runtime, OpenCV and TorchScript; ``show`` draws what a
model saw.
"""
