"""Storage errors."""


class StorageError(Exception):
    pass


class StorageConnectionError(StorageError):
    pass
