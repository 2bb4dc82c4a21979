"""Logging for the entry points: our progress lines and Beam's warnings, without the chatter."""
from __future__ import annotations

import logging

from transforms.common.progress import ensure_log_handler


class _DropMemoryProbeWarning(logging.Filter):
    """Beam 2.77's RunInference warns once per request that it cannot read memory use.

    Its `import resource` sits in one try block with model_manager, which imports
    torch; without torch the (present) resource module is taken as missing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Resource module is not available")


def configure_logging() -> None:
    # Beam's own INFO chatter hides the progress lines; keep its warnings and errors.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropMemoryProbeWarning())
    # Worker start-up warnings relayed by the local job service ("No semi_persistent_directory",
    # "Discarding unparseable args" for our own options) are noise; worker errors still show.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    ensure_log_handler()
