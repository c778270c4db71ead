"""The one error the dashboard's parsing and series code raise for bad input."""


class BadParameter(ValueError):
    """A query parameter is invalid; the message names it and says what is accepted."""
