"""Reason table, part 3: general sections about the sending side and the transport
(spam, rate limits, blocks, policy, network, system), then the vague `generic` phrases.
"""

from __future__ import annotations

__all__ = ["SENDER_PHRASES"]

SENDER_PHRASES = r"""
# Refusals of the sending IP that mention spam: about the sender's address, not the message.
[blocked]
currently sending spam  @doc:sisimai-reason-blocked
spam ips  @doc:sisimai-reason-blocked
you are sending spam  @doc:sisimai-reason-blocked
too many spams from your ip  @doc:sisimai-reason-blocked
extreme bad ip profile  @doc:sisimai-reason-blocked
host network not allowed  @doc:sisimai-reason-blocked
hosts with dynamic ip  @doc:sisimai-reason-blocked
no access from mail server  @doc:sisimai-reason-blocked
please use the smtp server of your isp  @doc:sisimai-reason-blocked
refused - see http
has not passed validation  @doc:sisimai-reason-blocked
looks suspiciously like spammer  @doc:sisimai-reason-blocked
to submit messages to this e-mail system has been rejected  @doc:sisimai-reason-blocked
you are not allowed to connect  @doc:sisimai-reason-blocked
your access ip \S+ has been rejected
confirm this mail server  @doc:sisimai-reason-blocked
requires confirmation  @doc:sisimai-reason-blocked

[virusdetected]
prohibited virus  @doc:sisimai-reason-virusdetected

[spamdetected]
mail content denied  @doc:sisimai-reason-spamdetected
# Sisimai Reason/SpamDetected.pm: gateway (MailMarshal, Trustwave SEG, Orange) and list wording
spamprofiler  @doc:sisimai-reason-spamdetected
mass mailer  @doc:sisimai-reason-spamdetected
reject, id=\d
mail rejete\. mail rejected
is blacklisted on  @doc:sisimai-reason-spamdetected
help_spam  @doc:sisimai-reason-spamdetected
unacceptable content  @doc:sisimai-reason-spamdetected
message rejected for policy reasons  @doc:sisimai-reason-spamdetected
our system has detected that this message is  @doc:sisimai-reason-spamdetected
sender domain listed at  @doc:sisimai-reason-spamdetected
spamming  @doc:sisimai-reason-spamdetected
recurrent pattern detection  @doc:sisimai-reason-spamdetected
temporarily blocked by our filter  @doc:sisimai-reason-spamdetected
antispam checks  @doc:sisimai-reason-spamdetected
mail score \(\S+ over
spam points  @doc:sisimai-reason-spamdetected
\bspam\b
unsolicited  @doc:sisimai-reason-spamdetected
\bube\b
bulk[. ](?:e-?mail|mail|advertising)
junk mail
content filter  @doc:sisimai-reason-spamdetected
message content rejected  @doc:sisimai-reason-spamdetected
rejecting (?:banned|mail) content  @doc:sisimai-reason-spamdetected
message (?:looks|seems) (?:like|to be)
uribl
surbl
blacklisted url  @doc:sisimai-reason-spamdetected
message filtered  @doc:sisimai-reason-spamdetected
spam ?assassin  @doc:sisimai-reason-spamdetected
probable spam  @doc:sisimai-reason-spamdetected
considered as junk
high probability of  @doc:sisimai-reason-spamdetected

[virusdetected]
\bvirus  @doc:sisimai-reason-virusdetected
malware  @doc:sisimai-reason-virusdetected
infected  @doc:sisimai-reason-virusdetected
potentially executable attachment  @doc:sisimai-reason-virusdetected

[speeding]
too many recipients (?:this|per|an|in the last) (?:hour|day|minute)  @doc:sisimai-reason-toomanyconn
receiving mail at a rate  @doc:sisimai-rhost-googleapps
try again slower
temporarily rate limited  @doc:sisimai-rhost-exchangeonline

[toomanyconn]
too many (?:concurrent )?(?:connections|smtp sessions|sessions|concurrent)  @doc:sisimai-reason-toomanyconn
connection (?:rate )?(?:limit|count)  @doc:sisimai-reason-toomanyconn
per-domain connection limit  @doc:sisimai-reason-toomanyconn
maximum connection  @doc:sisimai-reason-toomanyconn
too many errors from your ip  @doc:sisimai-reason-toomanyconn
too many recipients  @doc:sisimai-reason-toomanyconn
trop de connexions  @doc:sisimai-reason-toomanyconn
connection frequency limited  @doc:sisimai-rhost-tencentqq
concurrency limit
max(?:imum)? (?:emails|messages) per (?:hour|minute|day)  @doc:sisimai-reason-toomanyconn
exceeded the max emails  @doc:sisimai-reason-toomanyconn
throttling failure  @doc:sisimai-reason-toomanyconn
numerous attempts  @doc:sisimai-reason-toomanyconn

[speeding]
rate[ -]limit  @doc:sisimai-reason-toomanyconn
too (?:many|much) (?:messages|mail|emails|email)
sending (?:rate|too fast)  @doc:sisimai-reason-toomanyconn
too fast
throttl  @doc:sisimai-reason-toomanyconn
daily (?:sending |message )?(?:quota|limit)  @doc:sisimai-reason-toomanyconn
(?:message|sending|submission) quota exceeded  @doc:sisimai-reason-toomanyconn
message rate

[blocked]
\bblock(?:ed|ing|list(?:ed)?)?\b
black ?list(?:ed)?  @doc:sisimai-reason-blocked
deny ?list
\brbl\b
\bdnsbl\b
spamhaus  @doc:sisimai-reason-blocked
spamcop  @doc:sisimai-reason-blocked
barracuda  @doc:sisimai-reason-blocked
sorbs
client host rejected
helo command rejected  @doc:sisimai-reason-blocked
connection (?:refused|rejected|dropped|reset)
connection was dropped
not (?:currently )?accepting (?:mail|messages|connections) from your
your ip  @doc:sisimai-reason-blocked
ip address (?:\S+ )?(?:rejected|refused|not allowed)
(?:sender|sending|client|your) ip  @doc:sisimai-reason-blocked
listed (?:at|on|in)
banned  @doc:sisimai-reason-blocked
go away  @doc:sisimai-reason-blocked
my name was rejected  @doc:qmail-remote
unwanted messages  @doc:sisimai-reason-blocked
invalid ip for sending mail  @doc:sisimai-reason-blocked
esmtp not accepting connections  @doc:sisimai-reason-blocked
service refused  @doc:sisimai-reason-blocked
poor reputation  @doc:sisimai-reason-blocked
dynamic ip  @doc:sisimai-reason-blocked
dial-?up
open proxy  @doc:sisimai-reason-blocked
abus(?:e|ive)
not allowed to send (?:mail )?from
refused to talk to me  @doc:sisimai-reason-blocked
service not available, closing transmission channel  @doc:sisimai-reason-blocked
after initial connection  @doc:sisimai-reason-blocked
banned sending ip  @doc:sisimai-reason-blocked
access denied  @doc:sisimai-reason-blocked

[securityerror]
account not subscribed to ses  @doc:sisimai-reason-securityerror
authentication turned on in your email client  @doc:sisimai-reason-securityerror
executable files are not allowed in compressed files  @doc:sisimai-reason-securityerror
turn on smtp authentication  @doc:sisimai-lhost-messagelabs
smtp authentication (?:is )?required  @doc:sisimai-reason-securityerror
authentication (?:is )?required  @doc:sisimai-reason-securityerror

[policyviolation]
polic(?:y|ies)  @doc:sisimai-reason-policyviolation
illegal attachment  @doc:sisimai-reason-policyviolation
closed mailing list  @doc:sisimai-reason-policyviolation
members-only list  @doc:sisimai-reason-policyviolation
not subscribed to this group  @doc:sisimai-reason-policyviolation
organizational settings  @doc:sisimai-reason-policyviolation
protocol violation  @doc:sisimai-reason-policyviolation
header (?:error|are not accepted)  @doc:sisimai-reason-policyviolation
messages with multiple addresses  @doc:sisimai-reason-policyviolation
captcha  @doc:sisimai-reason-policyviolation
prohibited
not permitted

[contenterror]
improper use of 8-bit  @doc:sisimai-reason-contenterror
8-?bit (?:data|characters)  @doc:sisimai-reason-contenterror
invalid (?:mime|header|message|character)  @doc:sisimai-reason-contenterror
message (?:is )?(?:malformed|corrupt)
malformed (?:message|mime|header)
too many (?:received|hops) headers
header line too long
illegal character

[systemerror]
aliasing/forwarding loop broken  @doc:sisimai-reason-systemerror
would create a mail loop  @doc:sisimai-reason-systemerror
can't create user output file  @doc:sisimai-reason-systemerror
could not load drd  @doc:sisimai-reason-systemerror
loop was found in the mail exchanger  @doc:sisimai-reason-systemerror
loops back to myself  @doc:sisimai-reason-systemerror
service currently unavailable  @doc:sisimai-reason-systemerror

[networkerror]
no route to host  @doc:sisimai-reason-networkerror
host is unreachable  @doc:sisimai-reason-networkerror
network (?:is )?unreachable
network error
host name lookup failure  @doc:sisimai-reason-networkerror
host not found, try again  @doc:sisimai-reason-networkerror
dns (?:records|lookup|query|resolution|server|failure|error|problem)  @doc:sisimai-reason-networkerror
name server  @doc:sisimai-reason-networkerror
nameserver
malformed (?:or unexpected )?name server reply  @doc:sisimai-reason-networkerror
(?:mail|forwarding|routing) loop  @doc:sisimai-reason-networkerror
message looping  @doc:sisimai-reason-networkerror
too many hops  @doc:sisimai-reason-networkerror
hop count exceeded  @doc:sisimai-rhost-exchangeonline
unable to resolve  @doc:sisimai-reason-networkerror
unrouteable mail domain  @doc:sisimai-reason-networkerror
could not connect  @doc:sisimai-reason-networkerror
wasn't able to establish an smtp connection  @doc:sisimai-lhost-qmail
(?:unable|not able|wasn't able|could not|couldn't) to establish an? (?:smtp )?connection
connection (?:lost|closed|failed)
lost connection
tls (?:handshake|negotiation)

[systemerror]
unable to contact ldap  @doc:sisimai-lhost-x4
directory server failure
ldap (?:server|lookup) (?:error|failure|failed)

[expired]
in the queue too long  @doc:sisimai-reason-expired
retry timeout exceeded  @doc:sisimai-lhost-gmx
retry time not reached  @doc:sisimai-reason-expired
could not be delivered for  @doc:sisimai-reason-expired
queue (?:period|lifetime)  @doc:sisimai-reason-expired
was not reachable within the allowed queue period  @doc:sisimai-reason-expired
# "Your message was not delivered within 0 days and 1 hours." (Sisimai Lhost/EZweb.pm)
not delivered within  @doc:sisimai-lhost-ezweb

[systemfull]
(?:mail )?system (?:is )?full  @doc:sisimai-reason-systemfull
(?:disk|spool|queue) (?:is )?full
out of (?:disk )?space
no space left
insufficient system storage
system resources

[notaccept]
does not accept (?:any )?(?:e-?)?mail  @doc:sisimai-reason-notaccept
not accepting (?:any )?(?:e-?mail|messages|connections)
accepts no mail
service (?:is )?temporarily unavailable
temporarily unavailable

# A bare "554 Service unavailable" refuses the connection (us), not the address.
[blocked]
service unavailable

[systemerror generic]
system (?:error|config)  @doc:sisimai-reason-systemerror
configuration error  @doc:sisimai-reason-systemerror
(?:internal|server|local|temporary) (?:server )?(?:error|problem|failure)  @doc:sisimai-reason-systemerror
local error in processing  @doc:sisimai-reason-systemerror
loops back to myself  @doc:sisimai-reason-systemerror
aliasing/forwarding loop  @doc:sisimai-reason-systemerror
queue file write error  @doc:sisimai-reason-systemerror
misconfigured  @doc:sisimai-reason-systemerror
interrupted system call  @doc:sisimai-reason-systemerror
timeout waiting for input  @doc:sisimai-reason-systemerror
error while being processed  @doc:sisimai-reason-systemerror
transaction failed  @doc:sisimai-reason-systemerror
unable to contact ldap  @doc:sisimai-lhost-x4
directory server
temporary failure
(?:please )?try again later  @doc:sisimai-rhost-exchangeonline
try later

[expired generic]
expired  @doc:sisimai-reason-expired
delivery time  @doc:sisimai-reason-expired
connection timed out  @doc:sisimai-reason-expired
will continue trying
will be retried
timed? ?out  @doc:sisimai-reason-expired
giving up  @doc:sisimai-reason-expired
gave up
retry (?:time|timeout)  @doc:sisimai-reason-expired
could not be delivered for more than  @doc:sisimai-reason-expired
failing for a long time  @doc:sisimai-reason-expired
has been delayed  @doc:sisimai-reason-expired
delivery attempts will continue  @doc:sisimai-reason-expired
not been collected after  @doc:sisimai-reason-expired
server did not respond  @doc:sisimai-reason-expired
unable to deliver (?:message )?after  @doc:sisimai-reason-expired
could not find a gateway  @doc:sisimai-reason-expired
multiple retries  @doc:sisimai-reason-expired

[failedstarttls]
starttls
\btls\b
\bssl\b
certificate
encryption (?:required|needed)

[securityerror generic]
authentication (?:failure|failed|required|credentials)
authentification  @doc:sisimai-reason-securityerror
verification failure  @doc:sisimai-reason-securityerror
unauthenticated senders  @doc:sisimai-reason-securityerror
not authorized  @doc:sisimai-reason-securityerror
security
dead domain  @doc:sisimai-reason-securityerror

[syntaxerror]
syntax error
# RFC 5321 4.2.2's own texts: "500 Syntax error, command unrecognized", "504 Command parameter not implemented"
command (?:unrecognized|parameter not implemented)  @doc:rfc5321
command not recognized
improper sequence
bad sequence of commands  @doc:sisimai-rhost-nttdocomo
unrecognized command
line too long

[mailererror]
x-unix  @doc:sisimai-reason-mailererror
mailer (?:error|program)
exit (?:code|status)
command (?:died|failed|output:)
procmail  @doc:sisimai-reason-mailererror
bin/maildrop  @doc:sisimai-reason-mailererror
pipe to  @doc:sisimai-reason-mailererror
unknown mailer error  @doc:sisimai-reason-mailererror
"""
