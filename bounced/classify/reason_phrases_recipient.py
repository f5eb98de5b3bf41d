"""Reason table, part 2: general sections about the recipient, its mailbox and the
message (mailbox full, size, suspended, unknown user/host, filtered, sender rejected).
"""

from __future__ import annotations

__all__ = ["RECIPIENT_PHRASES"]

RECIPIENT_PHRASES = r"""
[mailererror]
^procmail:  @doc:sisimai-reason-mailererror
^x-unix;

[mailboxfull]
account disabled temporarly for exceeding receiving limits  @doc:sisimai-reason-mailboxfull
mail file size exceeds the maximum size allowed  @doc:sisimai-reason-mailboxfull
mail ?box would exceed maximum allowed storage  @doc:sisimai-reason-mailboxfull
mail ?box (?:is )?full  @doc:sisimai-reason-mailboxfull
full mail ?box  @doc:sisimai-reason-mailboxfull
mail ?box (?:is )?(?:over|exceed(?:s|ed)?) (?:its |the )?(?:quota|disk|size|storage|limit)  @doc:sisimai-reason-mailboxfull
mail ?box quota  @doc:sisimai-reason-mailboxfull
mailfolder is full  @doc:sisimai-reason-mailboxfull
over (?:the )?(?:allowed )?quota  @doc:sisimai-reason-mailboxfull
over (?:disk )?quota  @doc:sisimai-reason-mailboxfull
quota (?:exceeded|violation|usage exceeded|full)  @doc:sisimai-reason-mailboxfull
exceed(?:s|ed|ing)? (?:their |its |the |his |her |your )?(?:mail ?box |storage |disk )?quota  @doc:sisimai-reason-mailboxfull
disc quota exceeded  @doc:sisimai-reason-mailboxfull
disk quota  @doc:sisimai-reason-mailboxfull
insufficient (?:disk |storage )?(?:space|storage)
not enough (?:storage |disk )?space  @doc:sisimai-reason-mailboxfull
does not have enough space  @doc:sisimai-reason-mailboxfull
exceeded storage allocation  @doc:sisimai-reason-mailboxfull
mailbox size limit exceeded  @doc:sisimai-reason-mailboxfull
mail ?box has exceeded  @doc:sisimai-rhost-exchangeonline
space has been used up  @doc:sisimai-reason-mailboxfull
too many messages (?:on the server|in (?:the|this) mailbox)  @doc:sisimai-reason-mailboxfull
user(?:'s)? (?:mailbox )?is (?:over|full)  @doc:sisimai-reason-mailboxfull
boite du destinataire pleine  @doc:sisimai-reason-mailboxfull
too much mail data  @doc:sisimai-reason-mailboxfull
account is full
inbox is full
storage (?:limit|quota) (?:exceeded|reached)
mail ?box exceeded the local limit  @doc:sisimai-reason-mailboxfull
user mailbox exceeds allowed size  @doc:sisimai-lhost-imailserver
mail ?box exceeds (?:the )?(?:allowed|maximum) size
# Sisimai 5's MailboxFull list (go-sisimai reason/why-mailboxfull.go), ahead of its SystemFull
no space left on device
not sufficient disk space

[contenterror]
header size exceeds maximum permitted  @doc:sisimai-reason-contenterror
recipient list, exceeds policy limit  @doc:sisimai-reason-contenterror
mime complexity  @doc:sisimai-reason-contenterror
too many received: headers  @doc:sisimai-reason-contenterror
improperly-formatted binary content  @doc:sisimai-reason-contenterror
unnecessary base64 encoding  @doc:sisimai-reason-contenterror

[exceedlimit]
message header size exceeds limit  @doc:sisimai-reason-exceedlimit
exceeds? (?:the )?(?:allowed |administrative )?(?:limit|number) of (?:recipients|messages)

[mesgtoobig]
message (?:file )?(?:size )?(?:is )?too (?:big|large)  @doc:sisimai-reason-mesgtoobig
(?:message|mail) size (?:exceeds|limit|too)  @doc:sisimai-reason-mesgtoobig
size exceeds (?:fixed |the )?(?:limit|maximum)  @doc:sisimai-reason-mesgtoobig
exceeded maximum inbound message size  @doc:sisimai-reason-mesgtoobig
max(?:imum)? message size exceeded  @doc:sisimai-reason-mesgtoobig
message length exceeds  @doc:sisimai-reason-mesgtoobig
message exceeds (?:the )?(?:maximum|size)
exceeds (?:the )?maximum (?:allowed )?(?:message )?size
taille limite du message atteinte  @doc:sisimai-reason-mesgtoobig
line limit exceeded  @doc:sisimai-reason-mesgtoobig
size limit  @doc:sisimai-reason-mesgtoobig
too big for  @doc:sisimai-rhost-exchangeonline

[suspend]
archived recipient
user is terminated
email account that you tried to reach is inactive  @doc:google-smtp-error-reference
address no longer accepts mail
(?:user|domain|account) (?:or domain )?is disabled
disabled recipient
(?:is|been|currently|account) (?:temporarily )?suspended  @doc:sisimai-reason-suspend
user suspended  @doc:sisimai-reason-suspend
recipient suspend  @doc:sisimai-reason-suspend
account (?:is )?(?:disabled|deactivated|inactive|locked|blocked|expired|closed)  @doc:sisimai-reason-suspend
mail ?box (?:is )?(?:disabled|deactivated|inactive|frozen|locked|suspended)  @doc:sisimai-reason-suspend
this mailbox is disabled  @doc:sisimai-reason-suspend
deactivated mailbox  @doc:sisimai-reason-suspend
invalid/inactive user  @doc:sisimai-reason-suspend
inactive (?:user|account|recipient|mailbox)  @doc:sisimai-reason-suspend
temporarily inactive  @doc:sisimai-reason-suspend
temporary locked  @doc:sisimai-reason-suspend
(?:disabled|discontinued) or discontinued  @doc:sisimai-reason-suspend
account that you tried to reach is disabled  @doc:sisimai-rhost-googleapps
has been disabled  @doc:sisimai-reason-suspend
boite du destinataire archivee  @doc:sisimai-reason-suspend
mailbox unavailable or access denied  @doc:sisimai-reason-suspend

[hasmoved]
has been replaced by  @doc:sisimai-reason-hasmoved
no longer (?:on|at) (?:this )?server
(?:mail ?box|user|address) (?:has )?moved

[norelaying]
relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)  @doc:sisimai-reason-norelaying
unable to relay  @doc:sisimai-rhost-exchangeonline
not (?:allowed|permitted|authorized) to relay  @doc:sisimai-reason-norelaying
relaying mail to  @doc:sisimai-reason-norelaying
as a relay  @doc:sisimai-reason-norelaying
insecure mail relay  @doc:sisimai-reason-norelaying
not an open relay  @doc:sisimai-reason-norelaying
this system is not configured to relay  @doc:sisimai-reason-norelaying
we don't handle mail for  @doc:sisimai-reason-norelaying
not a gateway  @doc:sisimai-reason-norelaying
not local host  @doc:sisimai-reason-norelaying
that domain isn't in my list of allowed rcpthost  @doc:sisimai-reason-norelaying
requires authentication when attempting to send to a non-local  @doc:sisimai-reason-norelaying
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
sender policy framework  @doc:sisimai-rhost-exchangeonline
\bdkim\b.{0,24}\b(?:fail|invalid|signature|check|not pass|required)
\bdmarc\b.{0,24}\b(?:policy|fail|reject|check|not pass)  @doc:sisimai-reason-policyviolation
does not have authentication information  @doc:sisimai-rhost-googleapps
fails to pass authentication  @doc:sisimai-rhost-googleapps
sender is unauthenticated
authenticate with (?:either )?spf
sender authentication
authentication (?:rules|requirements|level|check)
doesn't meet the (?:required )?authentication
not allowed to send mail\.? .{0,40}_401
spf\.pobox\.com  @doc:sisimai-reason-blocked
sender (?:is )?not authorized by
5322\.from address
unauthenticated email
per it'?s spf record  @doc:sisimai-reason-blocked
inspect your spf  @doc:sisimai-reason-blocked

[requireptr]
dns ptr resource record  @doc:sisimai-reason-blocked
missing ptr records  @doc:sisimai-reason-blocked
ptr record found  @doc:sisimai-reason-blocked
ptr record setup  @doc:sisimai-reason-blocked
have a ptr record  @doc:sisimai-reason-blocked
ptr-records  @doc:sisimai-reason-blocked
reverse (?:dns|lookup|hostname|name)
invalid rdns record  @doc:sisimai-reason-blocked
cannot find your hostname  @doc:sisimai-reason-blocked
cannot resolve your (?:address|hostname)
ip name lookup failed  @doc:sisimai-reason-blocked
mismatches client ip  @doc:sisimai-reason-blocked
unresolvable relay host name  @doc:sisimai-reason-blocked
no (?:valid )?(?:dns|host ?name) for your ip
generic dns  @doc:sisimai-reason-blocked

[badreputation]
reputation  @doc:sisimai-reason-blocked
temporarily deferred due to (?:unexpected volume|user complaints)  @doc:sisimai-reason-blocked
user complaints  @doc:sisimai-reason-blocked

# The sender's own address or domain refused (Postfix reject_unknown_sender_domain ...):
# about us, whatever words about domains or users follow.
[rejected]
sender address rejected  @doc:sisimai-reason-rejected
sender(?:'s)? (?:\S+ )?domain  @doc:sisimai-reason-rejected
envelope sender  @doc:sisimai-reason-rejected
sender (?:\S+ ){0,2}(?:does not|doesn't) exist
sender mail ?box
unknown sender
mail from (?:\S+ )?domain  @doc:sisimai-lhost-facebook
return-path (?:\S+ )?domain
your (?:sending |sender )?domain (?:does not|doesn't|must|is not|has no|not)
\(sender\)
(?<!recipient )verification failed for <
sender verify failed  @doc:sisimai-reason-rejected
domain of sender address  @doc:sisimai-reason-rejected
batv  @doc:sisimai-reason-rejected
without a valid sender domain  @doc:sisimai-reason-rejected
denied \[bouncedeny\]  @doc:sisimai-reason-rejected
valid-address-filter  @doc:sisimai-reason-rejected
senderfilterconfig  @doc:sisimai-reason-rejected
envelope blocked  @doc:sisimai-reason-rejected
invalid domain, see <url:  @doc:sisimai-reason-rejected
recursive cname records  @doc:sisimai-reason-rejected
rule imposed mailbox access for  @doc:sisimai-reason-rejected
empty email address  @doc:sisimai-reason-rejected
delivery not authorized, message refused  @doc:sisimai-reason-rejected

[notaccept]
host/domain does not accept mail  @doc:sisimai-reason-notaccept
name server: \.: host not found  @doc:sisimai-reason-notaccept
null mx  @doc:rfc7505
couldn't find a mail exchanger or ip address
no mx (?:record )?found  @doc:sisimai-reason-notaccept
mx resource record of a destination host is null

[hostunknown]
host (?:or domain name )?(?:not found|unknown)  @doc:sisimai-reason-hostunknown
unknown (?:host|domain)  @doc:sisimai-reason-hostunknown
domain (?:name )?(?:does not exist|not found|is not reachable|must exist|unknown)  @doc:sisimai-reason-hostunknown
no such (?:domain|host)  @doc:sisimai-reason-hostunknown
name or service not known  @doc:sisimai-reason-hostunknown
couldn't find any host  @doc:sisimai-lhost-qmail
host unreachable  @doc:sisimai-reason-hostunknown
unroutable address  @doc:sisimai-reason-hostunknown
mail domain mentioned in email address is unknown  @doc:sisimai-reason-hostunknown
unknown domain  @doc:sisimai-reason-hostunknown
nxdomain
no (?:valid )?mail exchanger
the account or domain may not exist  @doc:sisimai-reason-hostunknown
domain (?:\S+ )?does not accept mail
dns (?:error|lookup).{0,40}(?:not found|does not exist|nxdomain)
\b553 [^ @]+ does not exist  @doc:sisimai-reason-hostunknown
unrout(?:e)?able address  @doc:sisimai-reason-hostunknown

[userunknown]
unknown or illegal alias
can't accept user  @doc:sisimai-reason-userunknown
destination addresses were unknown  @doc:sisimai-reason-userunknown
destination server rejected recipients  @doc:sisimai-reason-userunknown
(?:e-?mail )?address could not be found
nessun utente simile  @doc:sisimai-reason-userunknown
no existe (?:dicha persona|ese usuario)
no mail ?box available for this user
not a local address  @doc:sisimai-reason-userunknown
not email addresses  @doc:sisimai-reason-userunknown
recipient is not (?:accepted|local)
recipient refuses to accept your mail  @doc:sisimai-reason-userunknown
resolver\.adr\.recipient ?notfound  @doc:sisimai-reason-userunknown
envelope recipient has been denied  @doc:sisimai-reason-userunknown
domain or user isn't in my list of allowed rcpthosts  @doc:sisimai-reason-userunknown
following recipients was undeliverable  @doc:sisimai-reason-userunknown
email name is not found  @doc:sisimai-reason-userunknown
badrecipientto list  @doc:sisimai-reason-userunknown
not in my validrcptto list  @doc:sisimai-reason-userunknown
user missing home directory  @doc:sisimai-reason-userunknown
user not active  @doc:sisimai-reason-userunknown
utilisateur inconnu  @doc:sisimai-reason-userunknown
invalid or unknown virtual user  @doc:sisimai-reason-userunknown
adresse nicht gefunden
<[^ >]+> not found  @doc:sisimai-reason-userunknown
user \([^ )]+\) unknown
no \S+ in name directory
user ?unknown
recipient address rejected: access denied  @doc:sisimai-reason-userunknown
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
invalid-recipient  @doc:sisimai-reason-userunknown
not a (?:valid|known) (?:user|recipient|mail ?box|address)
is not a valid mailbox  @doc:sisimai-reason-userunknown
bad (?:destination )?(?:mail ?box )?address
bad[-_ ]recipient  @doc:sisimai-reason-userunknown
badrcptto  @doc:sisimai-reason-userunknown
non-?existent (?:user|recipient|account|address)
does not exist  @doc:sisimai-lhost-facebook
doesn't exist
no mail ?box (?:here|found|by that name)
no account by that name
not listed in (?:the )?(?:address book|directory|domino directory)
not our customer
no valid recipients  @doc:sisimai-lhost-verizon
recipient not (?:ok|accepted|exist)
account (?:does not exist|unavailable|not found)
there is no one at this address  @doc:sisimai-reason-userunknown
addressee unknown
no longer (?:valid|active|in use)
was not found in (?:ldap|the directory|directory)
resolver\.adr\.recipientnotfound  @doc:sisimai-reason-userunknown
recipnotfound  @doc:sisimai-lhost-exchange2007
cannot be delivered to the following recipient
user (?:\S+ )?not found  @doc:sisimai-reason-userunknown
mailbox (?:\S+ )?(?:not found|invalid)  @doc:sisimai-reason-userunknown
email account that you tried to reach does not exist  @doc:sisimai-rhost-googleapps
the email address you entered couldn't be found
couldn't be found  @doc:sisimai-lhost-gsuite
is not (?:an active address|a known user)
recipient address rejected(?:\.|$)  @doc:sisimai-reason-userunknown

[policyviolation]
not accepting mail with  @doc:sisimai-reason-policyviolation
members-only list  @doc:sisimai-reason-policyviolation
message given low priority  @doc:sisimai-reason-policyviolation
content presents a potential  @doc:sisimai-rhost-googleapps
do not accept messages containing  @doc:sisimai-reason-policyviolation

[filtered]
due to extended inactivity  @doc:sisimai-reason-filtered
because the recipient is only accepting mail from  @doc:sisimai-reason-filtered
refused due to recipient preferences  @doc:sisimai-reason-filtered
rejected due to user rules  @doc:sisimai-reason-filtered
resolver\.rst\.notauthorized  @doc:sisimai-reason-filtered
this account is protected by  @doc:sisimai-reason-filtered
user reject  @doc:sisimai-reason-filtered
you have been blocked by the recipient  @doc:sisimai-reason-filtered
recipient(?:'s)? (?:settings|preferences|filters?)  @doc:sisimai-reason-filtered
not accepting (?:any )?mail  @doc:sisimai-reason-filtered
has restricted sms e-mail  @doc:sisimai-reason-filtered
refuse to receive mail  @doc:sisimai-reason-filtered
bounced address  @doc:sisimai-reason-filtered

[rejected]
sender (?:address |e-?mail address |domain )?(?:is |was |has been )?(?:rejected|refused|denied)  @doc:sisimai-reason-rejected
sender (?:address |e-?mail address |domain )?(?:is |was |has been )?(?:blacklisted|blocked|invalid)  @doc:sisimai-reason-rejected
sender address has been blacklisted  @doc:sisimai-reason-rejected
sender verify failed  @doc:sisimai-reason-rejected
sender (?:is )?(?:on|in) (?:my |our |the )?(?:black ?list|block ?list|deny ?list)  @doc:sisimai-reason-rejected
sender is spammer  @doc:sisimai-reason-rejected
sender not pre-approved  @doc:sisimai-reason-rejected
invalid sender  @doc:sisimai-reason-rejected
unroutable sender  @doc:sisimai-reason-rejected
domain of sender address  @doc:sisimai-reason-rejected
sender domain (?:is empty|must exist|does not exist|not found)  @doc:sisimai-reason-rejected
(?:mail from|envelope sender|return path) (?:address )?(?:rejected|refused|not allowed|invalid)
null sender is not allowed  @doc:sisimai-reason-rejected
empty envelope senders? not allowed  @doc:sisimai-reason-rejected
bogus mail from  @doc:sisimai-reason-rejected
batv  @doc:sisimai-reason-rejected
returned mail not accepted here  @doc:sisimai-reason-rejected
no third-party dsns  @doc:sisimai-reason-rejected
unsigned dsn  @doc:sisimai-reason-rejected
access denied \(in reply to mail from command\)  @doc:sisimai-reason-rejected
administrative prohibition  @doc:sisimai-reason-rejected
this server does not accept mail from  @doc:sisimai-reason-rejected
fully qualified email address required  @doc:sisimai-reason-rejected
mail from not owned by user  @doc:sisimai-reason-rejected
email address is not verified  @doc:sisimai-reason-rejected
not allowed to post to this (?:mailing )?list  @doc:sisimai-reason-rejected
isn't on the recipient's list of senders  @doc:sisimai-reason-rejected
backscatter  @doc:sisimai-reason-rejected
emetteur invalide  @doc:sisimai-reason-rejected
(?:in reply to|after) mail from  @doc:sisimai-reason-rejected
not a member of this mailing list  @doc:sisimai-lhost-fml
not a member of this (?:mailing )?list
not a registered gateway user  @doc:sisimai-reason-rejected
recipient addresses rejected ?: access denied  @doc:sisimai-reason-rejected
from: domain is invalid  @doc:sisimai-reason-rejected
provide a valid from  @doc:sisimai-reason-rejected
sending to/from an address that has been blacklisted  @doc:sisimai-reason-rejected
send mail as
"""
