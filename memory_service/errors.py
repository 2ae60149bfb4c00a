"""Domain errors that the API turns into HTTP answers."""


class NotFound(LookupError):
    """The thing asked for does not exist for this user; answered as 404."""
