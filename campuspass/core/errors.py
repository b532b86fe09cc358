class CampusPassError(Exception):
    """An error whose message is meant for a person: Chinese, what happened and what to do next."""

    def __init__(self, message: str, *, code: str = "error"):
        super().__init__(message)
        self.message = message
        self.code = code
