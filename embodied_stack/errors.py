"""Errors of the stack: values a caller can show, naming what was wrong."""


class StackError(Exception):
    """Base class of every error the stack raises on purpose."""


class ConfigError(StackError):
    """A configuration or scene file is missing, malformed or invalid."""


class SchemaError(StackError):
    """A JSON message does not match its versioned schema."""
