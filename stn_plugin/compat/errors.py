"""The error raised when a checkpoint asks for something our loader does not permit."""
from __future__ import annotations

import pickle


class DisallowedGlobalError(pickle.UnpicklingError):
    """A checkpoint references a global (function/class) that safe loading refuses.

    It subclasses :class:`pickle.UnpicklingError` on purpose: ``torch.load`` only
    catches that class while unpickling with ``weights_only=True`` and re-raises it as
    ``pickle.UnpicklingError("Weights only load failed. ... <our message>")``, so the
    caller sees torch's usual failure type with our explanation inside it, naming the
    refused global.
    """
