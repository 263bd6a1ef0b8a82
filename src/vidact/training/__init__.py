"""Training with Lightning: the module, feature extraction and the run directory."""
