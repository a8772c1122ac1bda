class ModelError(ValueError):
    """A model file cannot be read or contains something outside the supported subset."""
