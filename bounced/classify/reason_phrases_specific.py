"""Reason table, part 1: greylisting, then long unambiguous phrases of big providers and
fixed texts of particular MTAs, ahead of the general sections (see `reason_table`).
"""

from __future__ import annotations

__all__ = ["SPECIFIC_PHRASES"]

SPECIFIC_PHRASES = r"""
[greylisted]
gr[ae]y-?list
gr[ae]y list
greylisting in action
temporarily deferred, try again
please try again in \d+ (?:sec|min)

# Long, unambiguous phrases of the big providers (Gmail, Microsoft 365, Mimecast ...), ahead
# of the general sections because their other words ("rate limited", "blocked") mislead.
[failedstarttls]
must issue a starttls command first
starttls may not be repeated
tls required for rcpt domain
senders to use tls/ssl
failed mta-sts validation
starttls is required
tls required but not supported
this route requires (?:encryption|tls|high-strength)

[authfailure]
senders to authenticate
spf record of the sending domain
hard fail policy
fails to pass spf
aligned with either the authenticated spf or dkim
add a dmarc record
dmarc verification
required authentication level

[requireptr]
does not have a ptr record
ptr record, or the ptr record
regarding ptr records
does not match the ip address of the hostname
must have a reverse dns record

[badreputation]
very low reputation

[blocked]
not (?:currently )?accepting (?:mail|messages|connections|e-?mail) from your
not (?:currently )?accepting (?:mail|messages|connections) from (?:this|the sending) (?:ip|host|server)
unusual rate of (?:unsolicited )?mail
ip not in whitelist for rcpt domain
try again later, closing connection
helo/ehlo argument
bad helo
customer block list

[notcompliantrfc]
missing a valid (?:address in the from:|message-id:) header
multiple addresses in from: header
unicode character in a disallowed header
encoded-word syntax is not permitted
not a valid rfc 5321 address
mail message is malformed

[policyviolation]
has a policy that prohibited
with the same message-id

[spamdetected]
nature of the content or the links within
likely unsolicited mail

[speeding]
due to excessive volume
receiving mail too quickly
relay limit exceeded
daily (?:user )?sending (?:quota|limit) exceeded
this mail has been rate limited

[expired]
connection expired
timeout - closing connection

[securityerror]
too many login attempts
# qmail's rcpthosts refusal that names authentication (Sisimai Reason/SecurityError.pm)
you don'?t authenticate or the domain
application-specific password required
log in (?:with|through) your web browser
username and password not accepted
no identity changes permitted

[syntaxerror]
smtp protocol violation
bad sequence of commands
(?:ehlo/helo|mail|rcpt) first
unrecognized command
no data after bdat

[systemerror]
temporary system problem
mail server (?:has )?temporarily rejected
multiple destination domains per transaction

[toomanyconn]
max message per connection reached
too many recipients for this sender
your message has too many recipients
# Amazon SES sending limits (Sisimai Reason/TooManyConn.pm), ahead of "quota exceeded"
throttling failure

# Sisimai Reason/SystemFull.pm: the server's storage, not the mailbox ("exceeded storage
# allocation" alone stays mailboxfull, as Sisimai checks MailboxFull first; X.3.1 says system)
[systemfull]
mail system full

# Sisimai Reason/NotAccept.pm, Expired.pm, Filtered.pm index phrases
[notaccept]
no route for current request
smtp protocol returned a permanent error

[expired]
failed to deliver to domain .{1,255} within

[filtered]
not found recipient account

# Fixed texts of particular MTAs (Exim, qmail, OpenSMTPD, Domino, Amavis ...): unambiguous,
# so they go before the general sections.
[contenterror]
too many "?received"? headers
too many received: headers
- bad header:

[exceedlimit]
message size exceeds recipient
exee?ded the maximum size the user accepts

[systemerror]
relay message back to mta
temporary mta failure on relaying
rejected by next-hop mta
delivery to (?:file|pipe) forbidden
local delivery failed
lmtp error after
several matches found in domino directory
automatic homedir creator crashed
ldap attribute
(?:timeout while performing search on|unable to login into) ldap
too many results returned but needs to be unique
permanent error while executing qmail-forward
bad interpreter
dns violates rfc 1035

[networkerror]
temporary failure in mx lookup
address family mismatch
could not retrieve source address
no valid route to
all routes to destination blocked
loop detected
exceeded maximum hop count
had no relevant answers
although i'm listed as a best-preference mx

[hostunknown]
all host address lookups failed permanently
all relevant mx records point to non-existent hosts
illegal host/domain name found
couldn't find any host
remote domain doesn'?t exist

[notaccept]
indicated no smtp service
no host found for existing smtp connection
seem to reject all mails

[syntaxerror]
angle-brackets nested too deep
expected word or "<"
domain missing in source-routed address
malformed address:

[suspend]
mailaddress is administrative?le?y disabled

# Fixed texts of documented MTA error tables (as Sisimai's Lhost/Notes.pm, Exchange2003.pm,
# IMailServer.pm, Verizon.pm, qmail.pm set them): an unknown mailbox whatever the stage.
[userunknown fixed]
no mailbox here by that name
not listed in public name
the recipient name is not recognized
invalid final delivery userid
no valid recipients for this mm
non répertorié dans l'annuaire
ディレクトリ(?:には見つかりません|のリストにありません)

[filtered]
cannot route mail to user

[mailboxfull]
quota exceed

[expired]
did not accept our requests to connect
host not reachable

[securityerror]
could not retrieve credentials

[expired]
message expired
delivery time expired
message timed out
"""
