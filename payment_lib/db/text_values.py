"""Text values PostgreSQL can store: its text types cannot hold NUL characters."""

from __future__ import annotations

from typing import Any


def replace_nul(parameters: Any) -> Any:
    """Statement parameters (a dict, a sequence, or a list of either for executemany) with
    each NUL character of a text value replaced by U+FFFD; the same object when none has one."""
    if isinstance(parameters, dict):
        if not any(isinstance(value, str) and "\x00" in value for value in parameters.values()):
            return parameters
        return {
            key: value.replace("\x00", "\ufffd") if isinstance(value, str) else value
            for key, value in parameters.items()
        }
    if isinstance(parameters, list | tuple) and parameters:
        if isinstance(parameters[0], dict | list | tuple):  # executemany
            return type(parameters)(replace_nul(row) for row in parameters)
        if any(isinstance(value, str) and "\x00" in value for value in parameters):
            return type(parameters)(
                value.replace("\x00", "\ufffd") if isinstance(value, str) else value
                for value in parameters
            )
    return parameters
