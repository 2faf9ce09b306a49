"""arlib: accounts-receivable reconciliation audit workbench.

Stages, one module each, frames in and frames out: ``load`` → ``validate`` → ``match`` →
``exceptions`` → ``aging`` → ``workpapers``; ``close`` runs the notebooks around them.

Nothing is imported here, so that ``arlib --help`` and each command pay only for the stages
they run: import from the stage's module (``from arlib.config import load_config``).
"""

__version__ = "0.1.0"
