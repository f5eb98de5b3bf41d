"""Format detectors, in the order the scan tries them (specific formats first).

Amazon SES JSON is not among them: the scan reads it as JSON before any text detector
(`amazonses.read_ses_json`)."""

from __future__ import annotations

from bounced.parse.detectors.base import Context, Detector
from bounced.parse.detectors.dsn_text import DsnInText
from bounced.parse.detectors.generic import (
    FailedRecipientsHeader,
    FluflBounce,
    OriginalRecipient,
    ProseHeuristic,
)

__all__ = ["FALLBACK_DETECTORS", "FORMAT_DETECTORS", "Context", "Detector"]

FORMAT_DETECTORS: tuple[Detector, ...] = (DsnInText(), FailedRecipientsHeader())
FALLBACK_DETECTORS: tuple[Detector, ...] = (ProseHeuristic(), FluflBounce(), OriginalRecipient())
