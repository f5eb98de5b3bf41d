"""Synthetic bounce events for the report benchmark: a year of a sending platform.

Distributions (deterministic, seeded): ~70 % soft among events, 40 from-domains with Zipf
weights, 8 sending IPs (each from-domain sends from one or two), 400 mailings of one
from-domain each spread over the year (bounces arrive over 4 days), Zipf recipient domains
(20,000 of them, 20 big providers first, the rest hosted at 30 hosters), several hundred
distinct normalised texts: providers and hosters have their own wording (80 %), the rest
comes from a generic pool, and every message varies (addresses, queue ids, IPs, URLs,
numbers) as real ones do.

Rows go straight into `bounce_events` with executemany (10 million through the daemon
would take hours); the schema and its triggers are the real migrations.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import string
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from bounced.report.bounce_text import normalise_bounce_text

__all__ = ["DAY_US", "GENERATOR_VERSION", "YEAR_START", "apply_migrations", "generate", "migrations_digest"]

GENERATOR_VERSION = 4
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
_START_US = int(YEAR_START.timestamp()) * 1_000_000

_PROVIDERS = [
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "gmx.de", "web.de",
    "orange.fr", "free.fr", "libero.it", "mail.ru", "yandex.ru", "icloud.com", "t-online.de",
    "comcast.net", "verizon.net", "seznam.cz", "wp.pl", "o2.pl", "naver.com",
]  # fmt: skip

_GENERIC = [
    "{c} {s} <{email}>: Recipient address rejected: Greylisted for {n} seconds! Please, see {url}",
    "{c} <{email}>: Recipient address rejected: Intentional policy rejection, please try again later",
    "421 Message source blocked temporarily. One or more sender authentication rules matched.",
    "421 Service Temporarily Unavailable",
    "451 Please try again later",
    "{c} {s} <{email}>: Mailbox full (quota {n} bytes exceeded)",
    "{c} {s} Requested mail action aborted: exceeded storage allocation ({n}/{n})",
    "{c} {s} Too many connections from {ip}, try again in {n} minutes",
    "{c} {s} Rate limit exceeded for sender domain, queue id {id}",
    "{c} {s} Temporary local problem - please try later [{id}]",
    "{c} {s} Message deferred: server busy, session {id} from {ip}",
    "{c} {s} Temporary DNS lookup failure for {host}",
    "{c} {s} Try again later, closing connection. (EHLO) {id} - {host}",
    "{c} {s} Insufficient system storage on {host}",
    "{c} {s} Connection timed out after {n} seconds while talking to {ip}",
    "{c} {s} Message temporarily rejected: suspicious content, ref {id}, see {url}",
    "{c} {s} User {email} is over quota. Try again later",
    "{c} {s} Service not available, closing transmission channel ({n})",
    "{c} {s} Delivery delayed: message {id} queued for {n} hours",
    "{c} {s} IP {ip} temporarily deferred due to user complaints, see {url}",
]
_CODES = [("450", "4.2.0"), ("451", "4.7.1"), ("452", "4.2.2"), ("421", "4.3.2"), ("451", "4.3.0"),
          ("450", "4.7.1"), ("452", "4.3.1"), ("421", "4.7.0")]  # fmt: skip
_HARD = [
    "550 5.1.1 <{email}>: Recipient address rejected: User unknown in virtual mailbox table",
    "550 5.1.1 The email account that you tried to reach does not exist. {url} {id} - gsmtp",
    "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
]


def _rand_id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase + string.digits, k=11)) + rng.choice("0123456789")


def _fill(template: str, rng: random.Random, code: tuple[str, str], domain: str) -> str:
    local = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10))) + str(rng.randint(1, 999))
    return template.format(
        c=code[0],
        s=code[1],
        email=f"{local}@{domain}",
        n=rng.choice((60, 120, 300, 900, 1024, 52428800, rng.randint(1, 100000))),
        url=f"https://help.{domain}/bounce?id={rng.randint(1, 10**6)}",
        ip=f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        id=_rand_id(rng),
        host=f"mx{rng.randint(1, 9)}.{domain}",
    )


class _Texts:
    """Per recipient domain: the templates its servers answer with."""

    def __init__(self, rng: random.Random) -> None:
        self.generic = [(t, c) for t in _GENERIC for c in rng.sample(_CODES, 3)]  # 60 variants
        self.by_provider: dict[str, list[tuple[str, tuple[str, str]]]] = {}
        # Big providers word things their own way; small domains live at one of 30 hosters,
        # which answer for all their domains with half a dozen texts each.
        for p in _PROVIDERS + [f"hoster{k}" for k in range(30)]:
            own = [(f"{{c}} {{s}} [{p}] {t.split(' ', 2)[-1]}", c) for t, c in rng.sample(self.generic, 12)]
            self.by_provider[p] = own if not p.startswith("hoster") else own[:6]

    def pick(self, rng: random.Random, domain: str) -> tuple[str, tuple[str, str]]:
        if domain.startswith("d"):  # "d123.example": hosted
            domain = f"hoster{int(domain[1:].partition('.')[0]) % 30}"
        own = self.by_provider.get(domain)
        if own and rng.random() < 0.8:
            return own[min(int(rng.paretovariate(1.2)) - 1, len(own) - 1)]
        return self.generic[min(int(rng.paretovariate(1.0)) - 1, len(self.generic) - 1)]


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (k**s) for k in range(1, n + 1)]


def _rows(total: int, seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    from_domains = [f"news{k}.sender{k % 7}.example" for k in range(40)]
    fd_weights = _zipf_weights(40, 1.0)
    ips = [f"198.51.100.{k}" for k in range(1, 9)]
    fd_ips = {fd: rng.sample(ips, rng.choice((1, 2))) for fd in from_domains}
    mailings = []
    for k in range(400):
        fd = rng.choices(from_domains, fd_weights)[0]
        mailings.append((f"m{k:04d}", fd, rng.randint(0, 361)))
    by_day: dict[int, list[tuple[str, str, int]]] = {}
    for m in mailings:
        for d in range(m[2], m[2] + 4):
            by_day.setdefault(d, []).append(m)
    domains = _PROVIDERS + [f"d{k}.example" for k in range(20_000 - len(_PROVIDERS))]
    cum_domains = list(_accumulate(_zipf_weights(len(domains), 1.1)))
    texts = _Texts(rng)
    key_cache: dict[tuple[str, tuple[str, str], str], str] = {}
    per_day = total // 365
    event_id = 0
    for day in range(365):
        count = per_day + (total - per_day * 365 if day == 364 else 0)
        active = by_day.get(day) or by_day[min(by_day, key=lambda d: abs(d - day))]
        offsets = sorted(rng.randrange(DAY_US) for _ in range(count))
        for off in offsets:
            event_id += 1
            mailing, fd, _ = rng.choice(active)
            ip = rng.choice(fd_ips[fd])
            domain = rng.choices(domains, cum_weights=cum_domains)[0]
            local = "".join(rng.choices(string.ascii_lowercase, k=8))
            r = rng.random()
            if r < 0.70:
                kind, reason = "soft", "mailboxfull"
                template, code = texts.pick(rng, domain)
                diag = _fill(template, rng, code, domain)
                ck = (template, code, domain)
                key = key_cache.get(ck)
                if key is None or event_id % 997 == 0:
                    fresh = normalise_bounce_text(diag, int(code[0]))
                    if key is not None and fresh != key:
                        raise AssertionError(f"template normalises unevenly: {key!r} vs {fresh!r}")
                    key = key_cache[ck] = fresh
                reply = int(diag[:3]) if diag[:3].isdigit() else int(code[0])
                status = code[1]
            elif r < 0.90:
                kind, reason = "hard", "userunknown"
                diag = _fill(rng.choice(_HARD), rng, ("550", "5.1.1"), domain)
                key, reply, status = normalise_bounce_text(diag, 550), 550, "5.1.1"
            elif r < 0.94:
                status = "5.7.1"
                kind, reason, diag, key, reply = (
                    "blocked",
                    "blocked",
                    "554 5.7.1 blocked",
                    "554 5.7.1 blocked",
                    554,
                )
            elif r < 0.97:
                status = None
                kind, reason, diag, key, reply = "autoreply", "vacation", "", "", None
            elif r < 0.98:
                status = None
                kind, reason, diag, key, reply = "complaint", "feedback", "", "", None
            else:
                status = "2.0.0"
                kind, reason, diag, key, reply = "delivered", "delivered", "250 2.0.0 OK", "250 2.0.0 OK", 250
            dedup = hashlib.blake2b(f"{event_id}".encode(), digest_size=16).hexdigest()
            yield (
                _START_US + day * DAY_US + off, f"{local}@{domain}", domain, kind, reason,
                status, reply, diag, key, mailing, fd, ip,
                f"<{event_id}.{mailing}@{fd}>", dedup,
            )  # fmt: skip


def _accumulate(weights: list[float]) -> Iterator[float]:
    acc = 0.0
    for w in weights:
        acc += w
        yield acc


def migrations_digest() -> str:
    folder = resources.files("bounced.store") / "migrations"
    h = hashlib.sha256(f"v{GENERATOR_VERSION}".encode())
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            h.update(entry.name.encode() + entry.read_bytes())
    return h.hexdigest()[:12]


def apply_migrations(conn: sqlite3.Connection, skip: str | None = None) -> None:
    folder = resources.files("bounced.store") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or (skip and entry.name.startswith(skip)):
            continue
        conn.executescript(entry.read_text(encoding="utf-8"))
        conn.execute(f"PRAGMA user_version = {int(entry.name[:4])}")


def generate(path: Path, total: int, seed: int = 5) -> None:
    """Write `total` events into a fresh database at `path` (through the real triggers)."""
    tmp = path.with_suffix(".partial")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    apply_migrations(conn)
    sql = (
        "INSERT INTO bounce_events (received_at, recipient, recipient_domain, kind, reason, status,"
        " reply_code, diagnostic, text_key, mailing_id, from_domain, sending_ip, message_id, dedup_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    started = time.monotonic()
    batch: list[tuple[object, ...]] = []
    done = 0
    conn.execute("BEGIN")
    for row in _rows(total, seed):
        batch.append(row)
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            done += len(batch)
            batch.clear()
            if done % 1_000_000 == 0:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                print(f"  generated {done:,} events in {time.monotonic() - started:.0f} s", flush=True)
    conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    tmp.rename(path)
