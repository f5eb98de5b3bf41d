"""When to resend a soft-bounced delivery, or when to give up. Pure: values in, values out.

`next_attempt(delivery, event, rules, now, rng)` picks the first matching rule (recipient
domain, status, reply code, reason, diagnostic regex; all given matchers must match),
computes the delay for the next attempt (fixed list, or geometric from `first_delay`
with `factor`, capped at `max_delay`, with optional +-jitter from the injected RNG) and
applies the greylisting floor: never earlier than the server's `retry_after` plus
`greylist_margin` (the floor itself capped at `greylist_max`, so a server asking for a
day does not park mail for a day). It gives up when the rule's attempts are used up or
the next attempt would fall after the message's `max_age`.

Greylisting comes first: a `greylisted` bounce is resent at exactly that floor, up to
`greylist_attempts` resends (the built-in rule "greylist"), unless a configured rule names
reason "greylisted" (the operator's own schedule); after that the other rules decide.
"""

from __future__ import annotations

import fnmatch
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from bounced.config.resend import ResendConfig, RetryRuleConfig
from bounced.model import BounceEvent, Delivery, Reason, address_domain

__all__ = [
    "GREYLIST_RULE",
    "GiveUp",
    "delay_for",
    "domain_matches",
    "greylist_due",
    "match_rule",
    "next_attempt",
    "rule_label",
]

GREYLIST_RULE = "greylist"


@dataclass(frozen=True, slots=True)
class GiveUp:
    why: str  # "attempts" or "max_age"
    rule: str  # label of the rule that decided
    attempts: int  # attempts made so far


def rule_label(rules: ResendConfig, rule: RetryRuleConfig) -> str:
    if rule is rules.default:
        return "default"
    index = next(i for i, r in enumerate(rules.rules) if r is rule)
    return rule.name or f"rules[{index}]"


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def domain_matches(domain: str, patterns: list[str]) -> bool:
    """`domain` is one of `patterns` ("x.com"), or a subdomain of a "*.x.com" one."""
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if domain.endswith(pattern[1:]):  # subdomains only, "*.x.com" not "x.com"
                return True
        elif domain == pattern:
            return True
    return False


def _rule_matches(rule: RetryRuleConfig, event: BounceEvent) -> bool:
    if rule.domains and not domain_matches(address_domain(event.recipient), rule.domains):
        return False
    if rule.status is not None and not (event.status and fnmatch.fnmatchcase(event.status, rule.status)):
        return False
    if rule.reply_code is not None and not (
        event.reply_code is not None and fnmatch.fnmatchcase(str(event.reply_code), rule.reply_code)
    ):
        return False
    if rule.reason is not None and str(event.reason) != rule.reason:
        return False
    return rule.diagnostic is None or bool(_regex(rule.diagnostic).search(event.diagnostic or ""))


def match_rule(event: BounceEvent, rules: ResendConfig) -> RetryRuleConfig:
    """The first rule whose matchers all match, else the default rule."""
    for rule in rules.rules:
        if _rule_matches(rule, event):
            return rule
    return rules.default


def delay_for(rule: RetryRuleConfig, resend_index: int, rng: random.Random) -> float:
    """Seconds before resend number `resend_index` (0 = the first resend)."""
    if rule.delays:
        delay = rule.delays[min(resend_index, len(rule.delays) - 1)]
    else:
        delay = min(rule.first_delay * rule.factor**resend_index, rule.max_delay)
    if rule.jitter:
        delay *= 1.0 + rng.uniform(-rule.jitter, rule.jitter)
    return max(delay, 0.0)


def next_attempt(
    delivery: Delivery, event: BounceEvent, rules: ResendConfig, now: datetime, rng: random.Random
) -> datetime | GiveUp:
    """When to try `delivery` again after soft bounce `event`, or GiveUp.

    `delivery.attempts` is the number of attempts made so far (1 after the first send).
    """
    resends_done = max(delivery.attempts - 1, 0)
    greylisted = greylist_due(delivery, event, rules, now, resends_done)
    if greylisted is not None:
        return greylisted
    rule = match_rule(event, rules)
    label = rule_label(rules, rule)
    if resends_done >= rule.attempts:
        return GiveUp("attempts", label, delivery.attempts)
    delay = delay_for(rule, resends_done, rng)
    if event.retry_after is not None:
        floor = min(event.retry_after + rules.greylist_margin, rules.greylist_max)
        delay = max(delay, floor)
    due = now + timedelta(seconds=delay)
    if due > delivery.created_at + timedelta(seconds=rule.max_age):
        return GiveUp("max_age", label, delivery.attempts)
    return due


def greylist_due(
    delivery: Delivery, event: BounceEvent, rules: ResendConfig, now: datetime, resends_done: int
) -> datetime | GiveUp | None:
    """The built-in greylisting rule's decision; None when it does not apply (not greylisted,
    its resends used up, or a configured rule for reason "greylisted" takes over)."""
    if event.reason != Reason.GREYLISTED or resends_done >= rules.greylist_attempts:
        return None
    if any(r.reason == Reason.GREYLISTED.value and _rule_matches(r, event) for r in rules.rules):
        return None
    wait = event.retry_after if event.retry_after is not None else 0
    due = now + timedelta(seconds=min(wait + rules.greylist_margin, rules.greylist_max))
    if due > delivery.created_at + timedelta(seconds=rules.default.max_age):
        return GiveUp("max_age", GREYLIST_RULE, delivery.attempts)
    return due
