"""Dataset indexing, splits, transforms, datasets and caches."""
