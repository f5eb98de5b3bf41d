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
tls required for rcpt domain  @doc:sisimai-rhost-googleapps
senders to use tls/ssl
failed mta-sts validation
starttls is required
tls required but not supported  @doc:sisimai-reason-securityerror
this route requires (?:encryption|tls|high-strength)  @doc:sisimai-rhost-mimecast

[authfailure]
senders to authenticate
spf record of the sending domain  @doc:sisimai-reason-blocked
hard fail policy
fails to pass spf  @doc:sisimai-rhost-googleapps
aligned with either the authenticated spf or dkim
add a dmarc record
dmarc verification
required authentication level

[requireptr]
does not have a ptr record  @doc:sisimai-rhost-googleapps
ptr record, or the ptr record
regarding ptr records
does not match the ip address of the hostname
must have a reverse dns record  @doc:sisimai-rhost-exchangeonline

[badreputation]
very low reputation  @doc:sisimai-rhost-googleapps

[blocked]
not (?:currently )?accepting (?:mail|messages|connections|e-?mail) from your
not (?:currently )?accepting (?:mail|messages|connections) from (?:this|the sending) (?:ip|host|server)
unusual rate of (?:unsolicited )?mail
ip not in whitelist for rcpt domain  @doc:sisimai-rhost-googleapps
try again later, closing connection  @doc:sisimai-rhost-googleapps
helo/ehlo argument
bad helo
customer block list  @doc:sisimai-rhost-exchangeonline

[notcompliantrfc]
missing a valid (?:address in the from:|message-id:) header
multiple addresses in from: header  @doc:sisimai-rhost-googleapps
unicode character in a disallowed header
encoded-word syntax is not permitted
not a valid rfc 5321 address
mail message is malformed  @doc:sisimai-rhost-googleapps

[policyviolation]
has a policy that prohibited  @doc:sisimai-rhost-googleapps
with the same message-id

[spamdetected]
nature of the content or the links within
likely unsolicited mail  @doc:sisimai-rhost-googleapps

[speeding]
due to excessive volume
receiving mail too quickly  @doc:sisimai-rhost-googleapps
relay limit exceeded  @doc:sisimai-rhost-googleapps
daily (?:user )?sending (?:quota|limit) exceeded
this mail has been rate limited

[expired]
connection expired
timeout - closing connection  @doc:sisimai-rhost-googleapps

[securityerror]
too many login attempts
# qmail's rcpthosts refusal that names authentication (Sisimai Reason/SecurityError.pm)
you don'?t authenticate or the domain
application-specific password required  @doc:sisimai-rhost-googleapps
log in (?:with|through) your web browser
username and password not accepted  @doc:sisimai-rhost-googleapps
no identity changes permitted

[syntaxerror]
smtp protocol violation  @doc:sisimai-rhost-googleapps
bad sequence of commands  @doc:sisimai-rhost-nttdocomo
(?:ehlo/helo|mail|rcpt) first
unrecognized command
no data after bdat

[systemerror]
temporary system problem  @doc:sisimai-rhost-googleapps
mail server (?:has )?temporarily rejected  @doc:sisimai-rhost-googleapps
multiple destination domains per transaction

[toomanyconn]
max message per connection reached
too many recipients for this sender  @doc:sisimai-reason-toomanyconn
your message has too many recipients  @doc:sisimai-reason-toomanyconn
# Amazon SES sending limits (Sisimai Reason/TooManyConn.pm), ahead of "quota exceeded"
throttling failure  @doc:sisimai-reason-toomanyconn

# Sisimai Reason/SystemFull.pm: the server's storage, not the mailbox ("exceeded storage
# allocation" alone stays mailboxfull, as Sisimai checks MailboxFull first; X.3.1 says system)
[systemfull]
mail system full  @doc:sisimai-reason-systemfull

# Sisimai Reason/NotAccept.pm, Expired.pm, Filtered.pm index phrases
[notaccept]
no route for current request  @doc:sisimai-reason-notaccept
smtp protocol returned a permanent error  @doc:sisimai-reason-notaccept

[expired]
failed to deliver to domain .{1,255} within  @doc:sisimai-reason-expired
# IMail (SMTP32): Sisimai's Lhost/IMailServer.pm `$refailures` (expired: "Delivery failed \d+ attempts")
delivery failed \d+ attempts

[filtered]
not found recipient account  @doc:sisimai-reason-filtered

# Fixed texts of particular MTAs (Exim, qmail, OpenSMTPD, Domino, Amavis ...): unambiguous,
# so they go before the general sections.
[contenterror]
too many "?received"? headers
too many received: headers  @doc:sisimai-reason-contenterror
- bad header:  @doc:sisimai-lhost-amavis

[exceedlimit]
message size exceeds recipient  @doc:sisimai-lhost-amavis
exee?ded the maximum size the user accepts

[systemerror]
relay message back to mta  @doc:sisimai-lhost-amavis
temporary mta failure on relaying  @doc:sisimai-lhost-amavis
rejected by next-hop mta  @doc:sisimai-lhost-amavis
delivery to (?:file|pipe) forbidden  @doc:sisimai-lhost-mxlogic
local delivery failed  @doc:sisimai-lhost-mxlogic
lmtp error after  @doc:sisimai-lhost-mxlogic
several matches found in domino directory  @doc:sisimai-lhost-domino
automatic homedir creator crashed  @doc:sisimai-lhost-x4
ldap attribute
(?:timeout while performing search on|unable to login into) ldap  @doc:sisimai-lhost-x4
too many results returned but needs to be unique  @doc:sisimai-lhost-x4
permanent error while executing qmail-forward  @doc:sisimai-lhost-x4
bad interpreter
dns violates rfc 1035  @doc:sisimai-lhost-courier

[networkerror]
temporary failure in mx lookup  @doc:sisimai-lhost-opensmtpd
address family mismatch  @doc:sisimai-lhost-opensmtpd
could not retrieve source address  @doc:sisimai-lhost-opensmtpd
no valid route to  @doc:sisimai-lhost-opensmtpd
all routes to destination blocked  @doc:sisimai-lhost-opensmtpd
loop detected
exceeded maximum hop count  @doc:sisimai-lhost-notes
had no relevant answers  @doc:sisimai-lhost-gsuite
although i'm listed as a best-preference mx  @doc:sisimai-lhost-x4

[hostunknown]
all host address lookups failed permanently  @doc:sisimai-lhost-mxlogic
all relevant mx records point to non-existent hosts  @doc:sisimai-lhost-mxlogic
illegal host/domain name found  @doc:sisimai-lhost-messagingserver
couldn't find any host  @doc:sisimai-lhost-x4
remote domain doesn'?t exist  @doc:sisimai-lhost-kddi

[notaccept]
indicated no smtp service  @doc:sisimai-lhost-mxlogic
no host found for existing smtp connection  @doc:sisimai-lhost-mxlogic
seem to reject all mails  @doc:sisimai-lhost-opensmtpd

[syntaxerror]
angle-brackets nested too deep  @doc:sisimai-lhost-mxlogic
expected word or "<"  @doc:sisimai-lhost-mxlogic
domain missing in source-routed address  @doc:sisimai-lhost-mxlogic
malformed address:

[suspend]
mailaddress is administrative?le?y disabled

# Exchange 2003's error codes (Sisimai Lhost/Exchange2003.pm `$errorcodes`).
[filtered]
\b000c0595\b  @doc:sisimai-lhost-exchange2003

[systemerror]
\b00010256\b  @doc:sisimai-lhost-exchange2003
\b000d06b5\b  @doc:sisimai-lhost-exchange2003

[networkerror]
\b00120270\b  @doc:sisimai-lhost-exchange2003

[contenterror]
\b00050311\b  @doc:sisimai-lhost-exchange2003
\b000502cc\b  @doc:sisimai-lhost-exchange2003

[securityerror]
\b000b0981\b  @doc:sisimai-lhost-exchange2003

# Fixed texts of documented MTA error tables (as Sisimai's Lhost/Notes.pm, Exchange2003.pm,
# IMailServer.pm, Verizon.pm, qmail.pm set them): an unknown mailbox whatever the stage.
[userunknown fixed]
no mailbox here by that name  @doc:sisimai-lhost-x4
not listed in public name  @doc:sisimai-lhost-domino
the recipient name is not recognized
invalid final delivery userid  @doc:sisimai-lhost-imailserver
no valid recipients for this mm  @doc:sisimai-lhost-verizon
non répertorié dans l'annuaire  @doc:sisimai-lhost-domino
ディレクトリ(?:には見つかりません|のリストにありません)
not listed in domino directory  @doc:sisimai-lhost-domino
requested action not taken: no such user here  @doc:sisimai-reason-userunknown
because the address couldn't be found  @doc:sisimai-lhost-gsuite
does not like recipient\.  @doc:sisimai-lhost-x4
\b000c05a6\b  @doc:sisimai-lhost-exchange2003

[filtered]
cannot route mail to user  @doc:sisimai-lhost-domino

[mailboxfull]
quota exceed  @doc:sisimai-reason-mailboxfull

[expired]
did not accept our requests to connect  @doc:sisimai-lhost-gmail
host not reachable  @doc:sisimai-lhost-zoho

[securityerror]
could not retrieve credentials  @doc:sisimai-lhost-opensmtpd

[expired]
message expired  @doc:sisimai-reason-expired
delivery time expired  @doc:sisimai-reason-expired
message timed out  @doc:sisimai-reason-expired
"""
