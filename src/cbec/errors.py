"""Exceptions raised on bad input. Each message names the file, the column and the problem."""

from __future__ import annotations


class CbecError(Exception):
    """Base class of the pipeline's own errors."""


class ConfigError(CbecError):
    """The configuration is invalid."""


class InputError(CbecError):
    """A raw input or artifact violates its contract."""

    def __init__(self, path: object, column: str | None, problem: str) -> None:
        self.path = str(path)
        self.column = column
        self.problem = problem
        where = f"{self.path}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")
