"""Seeing inside a trained model: what it learned, why it answered, and whether to believe it.

- :mod:`.inside`: the weights and units themselves (templates, hidden units, filters,
  feature maps, the hidden representation);
- :mod:`.attributions`: which pixels made the answer (Integrated Gradients, saliency,
  occlusion, Grad-CAM; computed by Captum, the ``explain`` extra);
- :mod:`.checks`: the published sanity checks of those maps;
- :mod:`.embedding` and :mod:`.figures`: many pictures in 2-d, and the figures.

``torchbasics explain`` (:mod:`torchbasics.runs.explain`) puts them together for a run.
"""
