class CampusPassError(Exception):
    """An error whose message is meant for a person: Chinese, what happened and what to do next."""

    def __init__(self, message: str, *, code: str = "error"):
        super().__init__(message)
        self.message = message
        self.code = code


class FieldError(CampusPassError, ValueError):
    """One field's value cannot be accepted (the one error family of the field rules, issue 11).

    ``field`` is the model field's name (``mobile``, ``plate``…), ``label`` its Chinese name
    (``手机号``); ``message`` is the sentence shown to the person, the same at every door: under the
    form field, from the service, and after "label：" in an import report. Pickles as
    ``cls(message)`` plus its attributes, so every subclass takes the message alone."""

    def __init__(self, message: str, *, field: str = "", label: str = "", code: str = "invalid"):
        super().__init__(message, code=code)
        self.field = field
        self.label = label

    @property
    def reason(self) -> str:  # the older name of the message (InvalidPlate / InvalidPhone)
        return self.message

    def __str__(self) -> str:
        return self.message
