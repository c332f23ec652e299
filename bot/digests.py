"""Digests: when a new weekly note is indexed, its cited summary is posted once to each channel
subscribed to it (bot/subscriptions.py).

Who notices. Any process may index (`yanbao index`, a CronJob, `index --watch`, `/reindex` or an
upload on any replica); every commit carries a generation in the store's catalog, which all
processes share. Each `yanbao serve` runs a DigestWorker that, every YANBAO_DIGEST_POLL_SECONDS,
takes the shared lock "digests:<platform>" without waiting (so one replica works per round, the
others skip it) and then:

1. scan: reads the reports committed after the shared cursor. A report id seen for the first time
   (a claim "digest-seen:…" in the shared state) is new; a re-indexed or re-described note is not,
   nor is one dated more than YANBAO_DIGEST_MAX_AGE_DAYS ago (an archive loaded late).
   Each new weekly is queued (a record "digest-queue", one per channel and note) for every
   subscription it matches and every channel whose scope allows it; then the cursor moves on.
   The first scan ever marks what is already indexed as seen: subscribing never floods a channel
   with the back catalogue.
2. deliver: outside the quiet hours, and while the channel's count for the day is under the cap,
   posts each queued digest after claiming "digest-sent:<channel>:<report>". The claim makes the
   post happen once across replicas and restarts; a post that fails is released and retried the
   next round, up to MAX_ATTEMPTS (at once dropped when the platform says the bot cannot post
   there: not in the channel, archived), and the subscription shows why (`/subscriptions`).

Between the claim and the platform's answer there is one moment where a killed process loses a
digest rather than posting it twice; we prefer that to posting it twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import metrics
from bot.answer import Answer
from bot.answering.weekly import about_sector, end_date, summarize_reports
from bot.scopes import Scopes
from bot.state import LockTimeout
from bot.subscriptions import Subscription, Subscriptions, matches
from index.filters import report_sectors
from index.records import Report
from index.sectors import canonical_sector
from index.settings import parse_quiet_hours

log = logging.getLogger("yanbao.digests")

QUEUE = "digest-queue"
CURSOR = "digest-cursor"
SEEN_TTL_SECONDS = 10 * 365 * 86400  # a note is new once
SENT_TTL_SECONDS = 10 * 365 * 86400  # and posted to a channel once
COUNT_TTL_SECONDS = 2 * 86400  # a channel's count of the day outlives its day
MAX_ATTEMPTS = 5
MAX_AGE_SECONDS = 7 * 86400  # a digest that could not be posted within a week is dropped


@dataclass
class Delivery:
    """What the platform said to a post: ok, or its error and whether trying again can help."""

    ok: bool
    error: str | None = None
    permanent: bool = False


Post = Callable[[str, Answer, Subscription, str], Delivery]  # (channel, digest, subscription, key)


@dataclass
class Round:
    """What one round of the worker did (for the log and for tests)."""

    busy: bool = False  # another replica held the lock
    new: list[str] = field(default_factory=list)  # report ids seen for the first time
    old: list[str] = field(default_factory=list)  # new to the index, but dated too long ago to be news
    queued: int = 0
    posted: list[tuple[str, str]] = field(default_factory=list)  # (channel, report id)
    held_quiet: int = 0
    held_cap: int = 0
    failed: int = 0
    dropped: int = 0


def quiet_now(quiet_hours: str | None, now: datetime) -> bool:
    """Whether `now` (local time) is within quiet hours such as "22:00-08:00"."""
    if not quiet_hours:
        return False
    start, end = parse_quiet_hours(quiet_hours)
    minute = now.hour * 60 + now.minute
    return start <= minute < end if start < end else minute >= start or minute < end


def digest_title(report: Report) -> str:
    return f"New weekly note: {report.broker or 'broker unknown'} — {report.title}"


class DigestWorker:
    """Notices new weekly notes and posts their digests for one platform's subscriptions."""

    def __init__(
        self,
        service,
        platform: str,
        post: Post,
        *,
        clock: Callable[[], float] = time.time,
        poll_seconds: float | None = None,
    ) -> None:
        self.service = service
        self.platform = platform
        self.post = post
        self.clock = clock
        self.poll_seconds = poll_seconds or service.settings.digest_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running in the background ----------------------------------------------------------------
    def start(self) -> DigestWorker:
        self._thread = threading.Thread(
            target=self._loop, name=f"yanbao-digests-{self.platform}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a round that failed is tried again; the bot goes on answering
                log.exception("digest round failed", extra={"platform": self.platform})
            self._stop.wait(self.poll_seconds)

    # -- one round ----------------------------------------------------------------------------------
    def run_once(self) -> Round:
        done = Round()
        book = Subscriptions(self.service.state)
        # scanned even with no subscription: a note indexed while nobody was subscribed is not
        # news to a channel that subscribes next month
        subscriptions = book.all(self.platform)
        try:
            with self.service.state.lock(f"digests:{self.platform}", timeout=0):
                self.scan(subscriptions, done)
                self.deliver(book, done)
        except LockTimeout:
            done.busy = True
        metrics.DIGEST_ROUNDS.labels(outcome="busy" if done.busy else "worked").inc()
        for outcome, count in (
            ("posted", len(done.posted)),
            ("held_quiet", done.held_quiet),
            ("held_cap", done.held_cap),
            ("failed", done.failed),
            ("dropped", done.dropped),
        ):
            if count:
                metrics.DIGESTS.labels(outcome=outcome).inc(count)
        if done.new or done.posted or done.failed or done.dropped:
            log.info(
                "digest round",
                extra={
                    "platform": self.platform,
                    "new": len(done.new),
                    "queued": done.queued,
                    "posted": len(done.posted),
                    "held_quiet": done.held_quiet,
                    "held_cap": done.held_cap,
                    "failed": done.failed,
                    "dropped": done.dropped,
                },
            )
        return done

    def scan(self, subscriptions: list[Subscription], done: Round) -> None:
        state, library = self.service.state, self.service.library
        cursor_key = f"{self.platform}"
        cursor = state.get_record(CURSOR, cursor_key)
        generation, committed = library.committed_after(cursor["generation"] if cursor else -1)
        library.refresh()  # after: the paragraphs of every report just read are known here too
        first_scan = cursor is None
        for report in committed:
            if not state.claim(f"digest-seen:{self.platform}:{report.id}", SEEN_TTL_SECONDS) or first_scan:
                continue  # re-indexed, re-described, or there before the first scan: not new
            done.new.append(report.id)
            if report.kind != "weekly":
                continue
            if self._old_news(report):
                done.old.append(report.id)
                continue
            for subscription in subscriptions:
                if not self._wanted(subscription, report):
                    continue
                key = f"{subscription.place}|{report.id}"
                if state.get_record(QUEUE, key) is None:
                    state.put_record(
                        QUEUE,
                        key,
                        {
                            "platform": subscription.platform,
                            "channel": subscription.channel,
                            "report_id": report.id,
                            "subscription": subscription.key,
                            "queued": self.clock(),
                            "attempts": 0,
                        },
                    )
                    done.queued += 1
        state.put_record(CURSOR, cursor_key, {"generation": generation, "scanned": self.clock()})

    def _old_news(self, report: Report) -> bool:
        """A weekly dated more than YANBAO_DIGEST_MAX_AGE_DAYS before today (an archive indexed
        late) is not news; one with no date is."""
        days = self.service.settings.digest_max_age_days
        if not days or not (report.date or report.period):
            return False
        today = datetime.fromtimestamp(self.clock(), ZoneInfo(self.service.settings.timezone)).date()
        return date.fromisoformat(end_date(report)) < today - timedelta(days=days)

    def _wanted(self, subscription: Subscription, report: Report) -> bool:
        library = self.service.library

        def sector_check(r: Report, sector: str) -> bool:
            # a sector (通信, telecom) is what the note is about, by its title; a theme (液冷) is
            # anything the note discusses, as for /weekly
            canonical = canonical_sector(sector, library.lexicon)
            if canonical is not None:
                return canonical in report_sectors(r)
            return about_sector(r, sector, library.lexical.report_chunks, library.lexicon)

        if not matches(subscription, report, sector_check):
            return False
        where = (
            Scopes(self.service.settings, self.service.state)
            .for_channel(subscription.platform, subscription.channel)
            .filter()
        )
        return where is None or where.matches(report)

    def deliver(self, book: Subscriptions, done: Round) -> None:
        state, settings = self.service.state, self.service.settings
        queue = {k: v for k, v in state.records(QUEUE).items() if v.get("platform") == self.platform}
        if not queue:
            return
        now = datetime.fromtimestamp(self.clock(), ZoneInfo(settings.timezone))
        if quiet_now(settings.digest_quiet_hours, now):
            done.held_quiet += len(queue)
            return
        day = now.date().isoformat()
        subscriptions = {s.key: s for s in book.all(self.platform)}
        reports = self.service.library.lexical.reports
        for key, item in sorted(queue.items(), key=lambda kv: kv[1].get("queued", 0)):
            channel, report_id = item["channel"], item["report_id"]
            subscription = subscriptions.get(item.get("subscription", ""))
            report = reports.get(report_id)
            stale = self.clock() - float(item.get("queued", 0)) > MAX_AGE_SECONDS
            if subscription is None or report is None or stale:
                # unsubscribed since, the note removed, or too old to be news
                state.delete_record(QUEUE, key)
                done.dropped += 1
                continue
            where = Scopes(settings, state).for_channel(self.platform, channel).filter()
            if where is not None and not where.matches(report):  # the channel's scope changed
                state.delete_record(QUEUE, key)
                done.dropped += 1
                continue
            count_key = f"digests:{self.platform}:{channel}:{day}"
            if state.count(count_key) >= settings.digest_daily_cap:
                done.held_cap += 1
                continue
            sent_key = f"digest-sent:{self.platform}:{channel}:{report_id}"
            if not state.claim(sent_key, SENT_TTL_SECONDS):
                state.delete_record(QUEUE, key)  # posted already (by a replica that died before this)
                continue
            delivery = self._post(channel, report, subscription, sent_key)
            if delivery.ok:
                state.count(count_key, 1, COUNT_TTL_SECONDS)
                state.delete_record(QUEUE, key)
                book.note_problem(subscription, None)
                done.posted.append((channel, report_id))
                continue
            state.release(sent_key)
            attempts = int(item.get("attempts", 0)) + 1
            book.note_problem(subscription, delivery.error)
            if delivery.permanent or attempts >= MAX_ATTEMPTS:
                state.delete_record(QUEUE, key)
                done.dropped += 1
                log.warning(
                    "digest dropped",
                    extra={"channel": channel, "report_id": report_id, "error": delivery.error},
                )
            else:
                state.put_record(QUEUE, key, {**item, "attempts": attempts, "error": delivery.error})
                done.failed += 1

    def _post(self, channel: str, report: Report, subscription: Subscription, sent_key: str) -> Delivery:
        try:
            digest = summarize_reports(
                self.service.library,
                [report],
                question=digest_title(report),
                llm=self.service.llm,
                cache=self.service.weekly_cache,
            )
            # an idempotency key the platform may use (Feishu drops a second send with one uuid)
            uuid = hashlib.sha1(sent_key.encode()).hexdigest()[:32]
            return self.post(channel, digest, subscription, uuid)
        except Exception as exc:
            log.exception("posting a digest failed", extra={"channel": channel, "report_id": report.id})
            return Delivery(False, f"{type(exc).__name__}: {exc}")
