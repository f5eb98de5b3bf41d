"""Reason table, part 3: general sections about the sending side and the transport
(spam, rate limits, blocks, policy, network, system), then the vague `generic` phrases.
"""

from __future__ import annotations

__all__ = ["SENDER_PHRASES"]

SENDER_PHRASES = r"""
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
# Sisimai Reason/SpamDetected.pm: gateway (MailMarshal, Trustwave SEG, Orange) and list wording
spamprofiler
mass mailer
reject, id=\d
mail rejete\. mail rejected
is blacklisted on
help_spam
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
# "Your message was not delivered within 0 days and 1 hours." (Sisimai Lhost/EZweb.pm)
not delivered within \d

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
service (?:is )?temporarily unavailable
temporarily unavailable

# A bare "554 Service unavailable" refuses the connection (us), not the address.
[blocked]
service unavailable

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
command (?:died|failed|output:)
procmail
bin/maildrop
pipe to
unknown mailer error
"""
