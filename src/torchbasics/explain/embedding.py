"""Many pictures' hidden representation drawn in two dimensions.

t-SNE (van der Maaten and Hinton, 2008) places points so that neighbours stay neighbours;
it is run on the first :data:`PCA_DIMENSIONS` principal components (the usual first step:
it removes noise and makes t-SNE faster), seeded so the figure is the same every time.
Distances between far-apart clusters in a t-SNE picture mean little; which pictures sit
together is what it shows.
"""

from __future__ import annotations

import numpy as np

PCA_DIMENSIONS = 50
PERPLEXITY = 30.0
ITERATIONS = 500  # scikit-learn's default is 1,000: the first 250 only spread the clusters


def embed(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(N, D)`` features -> ``(N, 2)`` points (PCA, then t-SNE; seeded)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(features) < 5:
        raise ValueError(f"need at least 5 pictures to draw in 2-d, got {len(features)}")
    dimensions = min(PCA_DIMENSIONS, features.shape[1], len(features))
    reduced = PCA(n_components=dimensions, random_state=seed).fit_transform(features)
    perplexity = min(PERPLEXITY, (len(features) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                max_iter=ITERATIONS, random_state=seed, n_jobs=-1)
    return tsne.fit_transform(reduced)
