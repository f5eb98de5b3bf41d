"""The reason table: ordered message patterns per reason, as data.

Read by `bounced.classify.reasons`. Sections `[reason]` (or `[reason generic]`) list one
regular-expression fragment per line, matched against the normalised diagnostic (lower
case, single spaces). The first section that matches decides, so specific phrases come
before vague ones; a reason may have several sections (specific early, vague late).
`generic` marks vague phrases ("try again", "temporary failure") that a status code beats.
Fragments must not nest quantifiers, so matching stays linear in the (capped) text.
Phrases follow what real servers say, grouped by meaning the way Sisimai's
lib/Sisimai/Reason/*.pm modules group them; comments start with "# ".
"""

from __future__ import annotations

from bounced.model import Reason

__all__ = ["REASON_TABLE", "parse_table"]

_TABLE_TEXT = r"""
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

[userunknown]
not listed in public name
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

[mailererror]
^procmail:
^x-unix;
^\d{1,3}$

[mailboxfull]
account disabled temporarly for exceeding receiving limits
mail file size exceeds the maximum size allowed
mail ?box would exceed maximum allowed storage
mail ?box (?:is )?full
full mail ?box
mail ?box (?:is )?(?:over|exceed(?:s|ed)?) (?:its |the )?(?:quota|disk|size|storage|limit)
mail ?box quota
mailfolder is full
over (?:the )?(?:allowed )?quota
over (?:disk )?quota
quota (?:exceeded|violation|usage exceeded|full)
exceed(?:s|ed|ing)? (?:their |its |the |his |her |your )?(?:mail ?box |storage |disk )?quota
disc quota exceeded
disk quota
insufficient (?:disk |storage )?(?:space|storage)
not enough (?:storage |disk )?space
does not have enough space
exceeded storage allocation
mailbox size limit exceeded
mail ?box has exceeded
space has been used up
too many messages (?:on the server|in (?:the|this) mailbox)
user(?:'s)? (?:mailbox )?is (?:over|full)
boite du destinataire pleine
too much mail data
account is full
inbox is full
storage (?:limit|quota) (?:exceeded|reached)
mail ?box exceeded the local limit
mail ?box exceeds (?:the )?(?:allowed|maximum) size

[contenterror]
header size exceeds maximum permitted
recipient list, exceeds policy limit
mime complexity
too many received: headers
improperly-formatted binary content
unnecessary base64 encoding

[exceedlimit]
message header size exceeds limit
exceeds? (?:the )?(?:allowed |administrative )?(?:limit|number) of (?:recipients|messages)

[mesgtoobig]
message (?:file )?(?:size )?(?:is )?too (?:big|large)
(?:message|mail) size (?:exceeds|limit|too)
size exceeds (?:fixed |the )?(?:limit|maximum)
exceeded maximum inbound message size
max(?:imum)? message size exceeded
message length exceeds
message exceeds (?:the )?(?:maximum|size)
exceeds (?:the )?maximum (?:allowed )?(?:message )?size
taille limite du message atteinte
line limit exceeded
size limit
too big for

[suspend]
archived recipient
user is terminated
email account that you tried to reach is inactive
address no longer accepts mail
(?:user|domain|account) (?:or domain )?is disabled
disabled recipient
(?:is|been|currently|account) (?:temporarily )?suspended
user suspended
recipient suspend
account (?:is )?(?:disabled|deactivated|inactive|locked|blocked|expired|closed)
mail ?box (?:is )?(?:disabled|deactivated|inactive|frozen|locked|suspended)
this mailbox is disabled
deactivated mailbox
invalid/inactive user
inactive (?:user|account|recipient|mailbox)
temporarily inactive
temporary locked
(?:disabled|discontinued) or discontinued
account that you tried to reach is disabled
has been disabled
boite du destinataire archivee
mailbox unavailable or access denied

[hasmoved]
has been replaced by
no longer (?:on|at) (?:this )?server
(?:mail ?box|user|address) (?:has )?moved

[norelaying]
relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)
unable to relay
not (?:allowed|permitted|authorized) to relay
relaying mail to
as a relay
insecure mail relay
not an open relay
this system is not configured to relay
we don't handle mail for
not a gateway
not local host
that domain isn't in my list of allowed rcpthost
requires authentication when attempting to send to a non-local
no relaying

[notcompliantrfc]
rfc ?(?:5322|2822) (?:compliant|complian|violation|standard)
not (?:rfc ?(?:5322|2822|822) |rfc |standards?[ -])compliant
rfcmessagenoncompliant
duplicate header
multiple (?:from|subject|to|date|message-id) headers
duplicate (?:from|subject|to|date|message-id) header
(?:missing|invalid|malformed) (?:from|date|message-id) header
does not comply with rfc

[authfailure]
\bspf\b.{0,24}\b(?:fail|softfail|check|validation|violation|error|record for|not pass)
\b(?:fail|failed|failure|failing|violat\w{0,5}|invalid|bad)\b.{0,24}\b(?:spf|dkim|dmarc)\b
sender policy framework
\bdkim\b.{0,24}\b(?:fail|invalid|signature|check|not pass|required)
\bdmarc\b.{0,24}\b(?:policy|fail|reject|check|not pass)
does not have authentication information
fails to pass authentication
sender is unauthenticated
authenticate with (?:either )?spf
sender authentication
authentication (?:rules|requirements|level|check)
doesn't meet the (?:required )?authentication
not allowed to send mail\.? .{0,40}_401
spf\.pobox\.com
sender (?:is )?not authorized by
5322\.from address
unauthenticated email
per it'?s spf record
inspect your spf

[requireptr]
\bptr\b
reverse (?:dns|lookup|hostname|name)
\brdns\b
cannot find your hostname
cannot resolve your (?:address|hostname)
ip name lookup failed
mismatches client ip
unresolvable relay host name
no (?:valid )?(?:dns|host ?name) for your ip
generic dns

[badreputation]
reputation
temporarily deferred due to (?:unexpected volume|user complaints)
user complaints

# The sender's own address or domain refused (Postfix reject_unknown_sender_domain ...):
# about us, whatever words about domains or users follow.
[rejected]
sender address rejected
sender verify failed
domain of sender address
batv
without a valid sender domain
denied \[bouncedeny\]
valid-address-filter
senderfilterconfig
envelope blocked
invalid domain, see <url:
recursive cname records
rule imposed mailbox access for
empty email address
delivery not authorized, message refused

[notaccept]
host/domain does not accept mail
name server: \.: host not found
null mx
couldn't find a mail exchanger or ip address
no mx (?:record )?found
mx resource record of a destination host is null

[hostunknown]
host (?:or domain name )?(?:not found|unknown)
unknown (?:host|domain)
domain (?:name )?(?:does not exist|not found|is not reachable|must exist|unknown)
no such (?:domain|host)
name or service not known
couldn't find any host named
host unreachable
unroutable address
mail domain mentioned in email address is unknown
unknown domain
nxdomain
no (?:valid )?mail exchanger
the account or domain may not exist
domain (?:\S+ )?does not accept mail
dns (?:error|lookup).{0,40}(?:not found|does not exist|nxdomain)
\b553 [^ @]+ does not exist
unrout(?:e)?able address

[userunknown]
unknown or illegal alias
can't accept user
destination addresses were unknown
destination server rejected recipients
(?:e-?mail )?address could not be found
nessun utente simile
no existe (?:dicha persona|ese usuario)
no mail ?box available for this user
not a local address
not email addresses
recipient is not (?:accepted|local)
recipient refuses to accept your mail
resolver\.adr\.recipient ?notfound
envelope recipient has been denied
domain or user isn't in my list of allowed rcpthosts
following recipients was undeliverable
email name is not found
badrecipientto list
not in my validrcptto list
user missing home directory
user not active
utilisateur inconnu
invalid or unknown virtual user
adresse nicht gefunden
<[^ >]+> not found
user \([^ )]+\) unknown
no \S+ in name directory
user ?unknown
recipient address rejected: access denied
invalid (?:final delivery )?userid
check if (?:the )?(?:recipient )?address is correct
doesn't have an? \S+ account
unknown (?:e-?mail address|local[- ]part|mail ?box|recipient|user|address|account)
no such (?:user|mail ?box|recipient|person|address|account)
(?:user|recipient|mail ?box|address|account|addressee) (?:\S+ )?(?:does not|doesn't|did not) exist
(?:user|recipient|mail ?box|address|account) (?:\S+ )?(?:was )?not (?:found|present|known)
(?:user|recipient|mail ?box|address|account) (?:\S+ )?(?:was )?not (?:listed|exist)
(?:user|recipient|mail ?box|address|account) (?:is )?(?:unknown|invalid|not valid)
(?:mail ?box|recipient|user) (?:\S+ )?(?:is )?(?:currently )?unavailable
invalid (?:recipient|mail ?box|address|user|e-?mail address)
invalid-recipient
not a (?:valid|known) (?:user|recipient|mail ?box|address)
is not a valid mailbox
bad (?:destination )?(?:mail ?box )?address
bad[-_ ]recipient
badrcptto
non-?existent (?:user|recipient|account|address)
does not exist
doesn't exist
no mail ?box (?:here|found|by that name)
no account by that name
not listed in (?:the )?(?:address book|directory|domino directory)
not our customer
no valid recipients
recipient not (?:ok|accepted|exist)
account (?:does not exist|unavailable|not found)
there is no one at this address
addressee unknown
no longer (?:valid|active|in use)
was not found in (?:ldap|the directory|directory)
resolver\.adr\.recipientnotfound
recipnotfound
cannot be delivered to the following recipient
user (?:\S+ )?not found
mailbox (?:\S+ )?(?:not found|invalid)
email account that you tried to reach does not exist
the email address you entered couldn't be found
couldn't be found
is not (?:an active address|a known user)
recipient address rejected(?:\.|$)

[policyviolation]
not accepting mail with
members-only list
message given low priority
content presents a potential
do not accept messages containing

[filtered]
due to extended inactivity
because the recipient is only accepting mail from
refused due to recipient preferences
rejected due to user rules
resolver\.rst\.notauthorized
this account is protected by
user reject
you have been blocked by the recipient
recipient(?:'s)? (?:settings|preferences|filters?)
not accepting (?:any )?mail
has restricted sms e-mail
refuse to receive mail
bounced address

[rejected]
sender (?:address |e-?mail address |domain )?(?:is |was |has been )?(?:rejected|refused|denied)
sender (?:address |e-?mail address |domain )?(?:is |was |has been )?(?:blacklisted|blocked|invalid)
sender address has been blacklisted
sender verify failed
sender (?:is )?(?:on|in) (?:my |our |the )?(?:black ?list|block ?list|deny ?list)
sender is spammer
sender not pre-approved
invalid sender
unroutable sender
domain of sender address
sender domain (?:is empty|must exist|does not exist|not found)
(?:mail from|envelope sender|return path) (?:address )?(?:rejected|refused|not allowed|invalid)
null sender is not allowed
empty envelope senders? not allowed
bogus mail from
batv
returned mail not accepted here
no third-party dsns
unsigned dsn
access denied \(in reply to mail from command\)
administrative prohibition
this server does not accept mail from
fully qualified email address required
mail from not owned by user
email address is not verified
not allowed to post to this (?:mailing )?list
isn't on the recipient's list of senders
backscatter
emetteur invalide
(?:in reply to|after) mail from
not a member of this (?:mailing )?list
not a registered gateway user
recipient addresses rejected ?: access denied
from: domain is invalid
provide a valid from
sending to/from an address that has been blacklisted
send mail as

# Refusals of the sending IP that mention spam: about the sender's address, not the message.
[blocked]
currently sending spam
spam ips
you are sending spam
too many spams from your ip
extreme bad ip profile
host network not allowed
hosts with dynamic ip
no access from mail server
please use the smtp server of your isp
refused - see http
has not passed validation
looks suspiciously like spammer
to submit messages to this e-mail system has been rejected
you are not allowed to connect
your access ip \S+ has been rejected
confirm this mail server
requires confirmation

[virusdetected]
prohibited virus

[spamdetected]
mail content denied
unacceptable content
message rejected for policy reasons
our system has detected that this message is
sender domain listed at
spamming
recurrent pattern detection
temporarily blocked by our filter
antispam checks
mail score \(\S+ over
spam points
\bspam\b
unsolicited
\bube\b
bulk[. ](?:e-?mail|mail|advertising)
junk mail
content filter
message content rejected
rejecting (?:banned|mail) content
message (?:looks|seems) (?:like|to be)
uribl
surbl
blacklisted url
message filtered
spam ?assassin
probable spam
considered as junk
high probability of

[virusdetected]
\bvirus
malware
infected
potentially executable attachment

[speeding]
too many recipients (?:this|per|an|in the last) (?:hour|day|minute)
receiving mail at a rate
try again slower
temporarily rate limited

[toomanyconn]
too many (?:concurrent )?(?:connections|smtp sessions|sessions|concurrent)
connection (?:rate )?(?:limit|count)
per-domain connection limit
maximum connection
too many errors from your ip
too many recipients
trop de connexions
connection frequency limited
concurrency limit
max(?:imum)? (?:emails|messages) per (?:hour|minute|day)
exceeded the max emails
throttling failure
numerous attempts

[speeding]
rate[ -]limit
too (?:many|much) (?:messages|mail|emails|email)
sending (?:rate|too fast)
too fast
throttl
daily (?:sending |message )?(?:quota|limit)
(?:message|sending|submission) quota exceeded
message rate

[blocked]
\bblock(?:ed|ing|list(?:ed)?)?\b
black ?list(?:ed)?
deny ?list
\brbl\b
\bdnsbl\b
spamhaus
spamcop
barracuda
sorbs
client host rejected
helo command rejected
connection (?:refused|rejected|dropped|reset)
connection was dropped
not (?:currently )?accepting (?:mail|messages|connections) from your
your ip
ip address (?:\S+ )?(?:rejected|refused|not allowed)
(?:sender|sending|client|your) ip
listed (?:at|on|in)
banned
go away
my name was rejected
unwanted messages
invalid ip for sending mail
esmtp not accepting connections
service refused
poor reputation
dynamic ip
dial-?up
open proxy
abus(?:e|ive)
not allowed to send (?:mail )?from
refused to talk to me
service not available, closing transmission channel
after initial connection
banned sending ip
access denied

[securityerror]
account not subscribed to ses
authentication turned on in your email client
executable files are not allowed in compressed files
turn on smtp authentication
smtp authentication (?:is )?required
authentication (?:is )?required

[policyviolation]
polic(?:y|ies)
illegal attachment
closed mailing list
members-only list
not subscribed to this group
organizational settings
protocol violation
header (?:error|are not accepted)
messages with multiple addresses
captcha
prohibited
not permitted

[contenterror]
improper use of 8-bit
8-?bit (?:data|characters)
invalid (?:mime|header|message|character)
message (?:is )?(?:malformed|corrupt)
malformed (?:message|mime|header)
too many (?:received|hops) headers
header line too long
illegal character

[systemerror]
aliasing/forwarding loop broken
would create a mail loop
can't create user output file
could not load drd
loop was found in the mail exchanger
loops back to myself
service currently unavailable

[networkerror]
no route to host
host is unreachable
network (?:is )?unreachable
network error
host name lookup failure
host not found, try again
dns (?:records|lookup|query|resolution|server|failure|error|problem)
name server
nameserver
malformed (?:or unexpected )?name server reply
(?:mail|forwarding|routing) loop
message looping
too many hops
hop count exceeded
unable to resolve
unrouteable mail domain
could not connect
(?:unable|not able|wasn't able|could not|couldn't) to establish an? (?:smtp )?connection
connection (?:lost|closed|failed)
lost connection
tls (?:handshake|negotiation)

[systemerror]
unable to contact ldap
directory server failure
ldap (?:server|lookup) (?:error|failure|failed)

[expired]
in the queue too long
retry timeout exceeded
retry time not reached
could not be delivered for
queue (?:period|lifetime)
was not reachable within the allowed queue period

[systemfull]
(?:mail )?system (?:is )?full
(?:disk|spool|queue) (?:is )?full
out of (?:disk )?space
no space left
insufficient system storage
system resources

[notaccept]
does not accept (?:any )?(?:e-?)?mail
not accepting (?:any )?(?:e-?mail|messages|connections)
accepts no mail
service (?:temporarily )?unavailable
temporarily unavailable

[systemerror generic]
system (?:error|config)
configuration error
(?:internal|server|local|temporary) (?:server )?(?:error|problem|failure)
local error in processing
loops back to myself
aliasing/forwarding loop
queue file write error
misconfigured
interrupted system call
timeout waiting for input
error while being processed
transaction failed
unable to contact ldap
directory server
temporary failure
(?:please )?try again later
try later

[expired generic]
expired
delivery time
connection timed out
will continue trying
will be retried
timed? ?out
giving up
gave up
retry (?:time|timeout)
could not be delivered for more than
failing for a long time
has been delayed
delivery attempts will continue
not been collected after
server did not respond
unable to deliver (?:message )?after
could not find a gateway
multiple retries

[failedstarttls]
starttls
\btls\b
\bssl\b
certificate
encryption (?:required|needed)

[securityerror generic]
authentication (?:failure|failed|required|credentials)
authentification
verification failure
unauthenticated senders
not authorized
security
dead domain

[syntaxerror]
syntax error
command (?:not recognized|unrecognized|parameter not implemented)
improper sequence
bad sequence of commands
unrecognized command
line too long

[mailererror]
x-unix
mailer (?:error|program)
exit (?:code|status)
command (?:died|failed)
procmail
pipe to
unknown mailer error
"""


def parse_table(text: str) -> tuple[tuple[Reason, bool, tuple[str, ...]], ...]:
    """Sections of `text` as (reason, generic, fragments), in order."""
    entries: list[tuple[Reason, bool, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("[") and line.endswith("]"):
            name, _, flag = line[1:-1].partition(" ")
            entries.append((Reason(name), flag == "generic", []))
        else:
            entries[-1][2].append(line)
    return tuple((reason, generic, tuple(fragments)) for reason, generic, fragments in entries)


REASON_TABLE: tuple[tuple[Reason, bool, tuple[str, ...]], ...] = parse_table(_TABLE_TEXT)
