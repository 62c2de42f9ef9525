"""The one exception every transport raises for connection and protocol failures."""


class TransportError(Exception):
    """The connection to the controller failed, closed, or carried malformed data."""
