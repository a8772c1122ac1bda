class ModelError(ValueError):
    """A model file cannot be read, is not trusted, or contains something outside the supported
    subset.

    Parameters
    ----------
    message : str
        What was wrong and what to do, spelt for Python callers (keyword arguments such as
        ``input_shape=(1, 28, 28)`` or ``trust=True``).
    cli : str, optional
        The same message spelt for the command line (its options, such as
        ``--input-shape 1,28,28`` or ``--trust-pickle``); the Python message when omitted.

    Examples
    --------
    >>> e = ModelError("pass input_shape=(1, 28, 28)", cli="pass --input-shape 1,28,28")
    >>> str(e), e.cli
    ('pass input_shape=(1, 28, 28)', 'pass --input-shape 1,28,28')
    """

    def __init__(self, message: str, cli: str | None = None):
        super().__init__(message)
        self.cli = message if cli is None else cli

    def within(self, prefix: str) -> "ModelError":
        """The same error, both spellings led by ``prefix`` and a colon (the file it came from)."""
        return ModelError(f"{prefix}: {self}", cli=f"{prefix}: {self.cli}")

