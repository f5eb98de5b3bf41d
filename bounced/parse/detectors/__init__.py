"""Format detectors, in the order the scan tries them (specific formats first)."""

from __future__ import annotations

from bounced.parse.detectors.amazonses import AmazonSesJson
from bounced.parse.detectors.base import Context, Detector
from bounced.parse.detectors.dsn_text import DsnInText
from bounced.parse.detectors.generic import (
    FailedRecipientsHeader,
    FluflBounce,
    OriginalRecipient,
    ProseHeuristic,
)

__all__ = ["FALLBACK_DETECTORS", "FORMAT_DETECTORS", "Context", "Detector"]

FORMAT_DETECTORS: tuple[Detector, ...] = (DsnInText(), AmazonSesJson(), FailedRecipientsHeader())
FALLBACK_DETECTORS: tuple[Detector, ...] = (ProseHeuristic(), FluflBounce(), OriginalRecipient())
