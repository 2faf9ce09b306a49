"""arlib: accounts-receivable reconciliation audit workbench.

Stages, one module each, frames in and frames out: ``load`` → ``validate`` → ``match`` →
``exceptions`` → ``aging`` → ``workpapers``; ``close`` runs the notebooks around them.
"""

from arlib.config import Config, ConfigError, load_config

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "load_config", "__version__"]
