"""Storage: models, engine factory, the one writer and the readers."""
