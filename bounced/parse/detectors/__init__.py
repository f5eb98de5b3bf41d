"""Every format the parser knows, one detector per module, in the order the scan tries them.

Machine-readable formats first (their fields say who failed), then formats with a fixed
shape, then heuristics over prose, which only run when nothing more certain matched:

1. ARF feedback reports (RFC 5965): always a complaint, even with the recipient withheld.
2. RFC 3464 / RFC 6533 delivery-status parts.
3. Amazon SES notifications, read as JSON and never as text.
4. RFC 3464 fields written into a text part.
5. X-Failed-Recipients (Exim, Google).
6. RFC 3834 auto-replies (vacation, out of office).
7. An RFC 3464 report inside an attached message (a forwarded bounce).
8. Addresses named in bounce prose.
9. flufl.bounce's detectors.
10. The quoted RCPT TO, else the returned original's To.
"""

from __future__ import annotations

from bounced.parse.detectors.amazonses import AmazonSes
from bounced.parse.detectors.autoreply import AutoReply
from bounced.parse.detectors.base import Detection, Detector
from bounced.parse.detectors.delivery_status import DeliveryStatus
from bounced.parse.detectors.dsn_in_text import DsnInText
from bounced.parse.detectors.failed_recipients import FailedRecipientsHeader
from bounced.parse.detectors.feedback_report import FeedbackReport
from bounced.parse.detectors.flufl import FluflBounce
from bounced.parse.detectors.named_in_prose import NamedInProse
from bounced.parse.detectors.nested_dsn import NestedDsn
from bounced.parse.detectors.original_recipient import OriginalRecipient

__all__ = ["DETECTORS", "Detection", "Detector"]

DETECTORS: tuple[Detector, ...] = (
    FeedbackReport(),
    DeliveryStatus(),
    AmazonSes(),
    DsnInText(),
    FailedRecipientsHeader(),
    AutoReply(),
    NestedDsn(),
    NamedInProse(),
    FluflBounce(),
    OriginalRecipient(),
)
