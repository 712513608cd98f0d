"""The one exception type that user-facing input checks raise."""


class ConfigError(ValueError):
  """A bad user-supplied value.

  ``field`` names the argument (a config field such as ``depth``); the CLI turns
  it into the flag the user typed (``--depth``) and prints one line, exit 2.
  """

  def __init__(self, field: str, message: str):
    super().__init__(f"{field}: {message}")
    self.field = field
    self.message = message
