"""Using a trained model: pictures in, predictions out; export to ONNX and TorchScript.

``preprocess`` turns any picture into model input, ``predictor`` holds the
:class:`~torchbasics.inference.predictor.Classifier`, ``loading`` opens a run directory,
``export`` writes deployable files, and ``scans`` renders MNIST digits as photos for testing.
"""
