"""Reason table, part 2: general sections about the recipient, its mailbox and the
message (mailbox full, size, suspended, unknown user/host, filtered, sender rejected).
"""

from __future__ import annotations

__all__ = ["RECIPIENT_PHRASES"]

RECIPIENT_PHRASES = r"""
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
sender(?:'s)? (?:\S+ )?domain
envelope sender
sender (?:\S+ ){0,2}(?:does not|doesn't) exist
sender mail ?box
unknown sender
mail from (?:\S+ )?domain
return-path (?:\S+ )?domain
your (?:sending |sender )?domain (?:does not|doesn't|must|is not|has no|not)
\(sender\)
(?<!recipient )verification failed for <
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
"""
