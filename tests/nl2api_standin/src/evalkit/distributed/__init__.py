"""Distributed evaluation: Redis Streams queue, worker (`python -m src.evalkit.distributed`), coordinator.

Importing the package imports the coordinator, which imports CONTRACTS, as the real package does; redis is only
imported when a queue is created (see queue/__init__.py).
"""

from src.evalkit.distributed.config import CoordinatorConfig, EvalMode, QueueConfig
from src.evalkit.distributed.coordinator import BatchCoordinator, BatchResult
from src.evalkit.distributed.manager import LocalWorkerManager
from src.evalkit.distributed.queue import create_queue
from src.evalkit.distributed.worker import EvalWorker

__all__ = [
    "BatchCoordinator",
    "BatchResult",
    "CoordinatorConfig",
    "EvalMode",
    "EvalWorker",
    "LocalWorkerManager",
    "QueueConfig",
    "create_queue",
]
