"""The errors sourcechat reports to people: one hierarchy, messages written for the user.

They live in the leftmost package so every stage of the pipeline can raise them;
the CLI and the web chat translate them into one line / one chat message.
"""


class SourcechatError(Exception):
    """Base class: the message says what was wrong and what to do."""


class LoadError(SourcechatError):
    """A file could not be read into text (unsupported, corrupt, empty, unreadable)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexMismatchError(SourcechatError):
    """The index was built with another embedding model than the one configured."""


class InvalidQuestionError(SourcechatError):
    """The question is empty or otherwise unusable."""


class BackendError(SourcechatError):
    """The answering backend is unknown, missing or failing."""


class NotWritableError(SourcechatError):
    """The data dir (or the index in it) cannot be written by this process."""

    def __init__(self, folder, reason: str):
        super().__init__(f"The data dir {folder} is not writable: {reason} (set "
                         "SOURCECHAT_DATA_DIR to a writable folder, or ask its owner)")
        self.folder = folder
        self.reason = reason
