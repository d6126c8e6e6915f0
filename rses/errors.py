"""The exceptions rses raises for problems a user can fix.

The CLI prints these as one readable line (no traceback unless ``--debug``):
:class:`UsageError` exits 2, every other :class:`RsesError` exits 1.
"""


class RsesError(Exception):
    """A failure the user can act on; the message says what was wrong and what to do."""


class UsageError(RsesError):
    """A bad argument or name given by the user (exit status 2)."""


class WeightsNotFoundError(RsesError):
    """A learned model's weights could not be found locally or on the hub."""


class UnsafeWeightsError(RsesError):
    """A pickle-format checkpoint was refused because the user did not opt in."""


class InvalidSampleError(RsesError):
    """An input sample (image, mask, manifest row) is unusable; the message names the sample."""


class WeightsMismatchError(RsesError):
    """A checkpoint's content differs from the known digest of the model it claims to be."""
