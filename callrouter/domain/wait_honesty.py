"""Honest expected waits: was the wait said in the queue at least the wait that followed?

UX.md asks that announced >= actual for most calls, and that the figures show it. Every announcement
is a call event (`announced`: the estimate in seconds, or none when "wait unknown" was said). Each
announcement with an estimate is judged on its own, counted from the moment it was said:

- honest: a liaison answered within the estimate (answered_at - announced_at <= estimate);
- too short: answered later, or the caller was still waiting when the estimate ran out and then left
  the queue (hung up, asked for a callback);
- not judged: the caller left before the estimate ran out (nobody knows how long it would have been),
  or the call has neither an answer nor an end yet (still waiting).

Stdlib only; the SQL adapter reads the announcements and the calls' answered and end events.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from callrouter.domain.queueing import percentile

HONEST_TARGET = 0.8  # "most calls" (UX.md): at least this share of the judged announcements is honest
ANSWERED = "answered"
NOT_BRIDGED = "not_bridged"
LEFT_QUEUE_KINDS = frozenset({"abandoned", "callback_requested", "completed"})  # callrouter.domain.calls.EventKind


class Verdict(enum.StrEnum):
    HONEST = "honest"
    TOO_SHORT = "too_short"
    LEFT_EARLY = "left_early"  # not judged: left the queue before the estimate ran out
    OPEN = "open"  # not judged yet: no answer and no end recorded (still waiting)
    UNKNOWN = "unknown"  # "wait unknown" was said: nothing to judge


class TargetState(enum.StrEnum):
    MET = "met"
    MISSED = "missed"
    NO_DATA = "no_data"  # nothing judged: no figure, no verdict on the target


@dataclass(frozen=True)
class Announcement:
    at: datetime
    estimate_s: int | None  # None: "wait unknown" was said
    position: int | None = None
    waited_s: int | None = None  # in the queue so far when it was said


@dataclass(frozen=True)
class AnnouncedCall:
    """A call with the waits said to it, and when its wait ended (answered, or left the queue)."""

    organisation: str
    announcements: tuple[Announcement, ...]
    answered_at: datetime | None = None  # the first answer
    left_at: datetime | None = None  # the first of hung up, callback asked, ended (without an answer)

    @classmethod
    def from_events(cls, *, organisation: str, announcements: Iterable[Announcement],
                    events: Iterable[tuple[str, datetime]]) -> AnnouncedCall:
        """From the call's events (kind, at); every moment is the earliest of its kind, so an event that
        came twice or out of order changes nothing. A pickup that was never bridged (`not_bridged` after
        `answered`: the liaison hung up in the whisper) is no answer."""
        answers: list[datetime] = []
        left: datetime | None = None
        for kind, at in sorted(events, key=lambda e: (e[1], e[0] != ANSWERED)):
            if kind == ANSWERED:
                answers.append(at)
            elif kind == NOT_BRIDGED and answers:
                answers.pop()
            elif kind in LEFT_QUEUE_KINDS:
                left = at if left is None else min(left, at)
        return cls(organisation, tuple(sorted(announcements, key=lambda a: a.at)), min(answers, default=None), left)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    off_s: float | None = None  # too short: actual minus announced (for a caller who left: at least this)


def judge(announcement: Announcement, *, answered_at: datetime | None, left_at: datetime | None) -> Judgement:
    """One announcement against what followed it (see the module docstring)."""
    estimate = announcement.estimate_s
    if estimate is None:
        return Judgement(Verdict.UNKNOWN)
    if answered_at is not None:
        actual = max(0.0, (answered_at - announcement.at).total_seconds())
        return Judgement(Verdict.HONEST) if actual <= estimate else Judgement(Verdict.TOO_SHORT, actual - estimate)
    if left_at is not None:
        stayed = (left_at - announcement.at).total_seconds()
        # Leaving exactly when the estimate ran out proves nothing either way: not judged.
        return Judgement(Verdict.TOO_SHORT, stayed - estimate) if stayed > estimate else Judgement(Verdict.LEFT_EARLY)
    return Judgement(Verdict.OPEN)


@dataclass(frozen=True)
class Figures:
    calls: int = 0  # calls that heard at least one announcement
    announcements: int = 0
    unknown: int = 0  # "wait unknown" said
    honest: int = 0
    too_short: int = 0
    left_early: int = 0
    still_open: int = 0
    off_median_s: float | None = None  # of the too-short ones: actual minus announced, nearest rank
    off_p90_s: float | None = None

    @property
    def judged(self) -> int:
        return self.honest + self.too_short

    @property
    def not_judged(self) -> int:
        return self.left_early + self.still_open

    @property
    def share_honest(self) -> float | None:
        """honest / judged; no figure when nothing was judged."""
        return self.honest / self.judged if self.judged else None

    def state(self, target: float = HONEST_TARGET) -> TargetState:
        share = self.share_honest
        if share is None:
            return TargetState.NO_DATA
        return TargetState.MET if share >= target else TargetState.MISSED


def figures(calls: Iterable[AnnouncedCall]) -> Figures:
    chosen = list(calls)
    verdicts: list[Judgement] = [judge(a, answered_at=c.answered_at, left_at=c.left_at)
                                 for c in chosen for a in c.announcements]
    count = {v: sum(j.verdict == v for j in verdicts) for v in Verdict}
    offs = [j.off_s for j in verdicts if j.verdict == Verdict.TOO_SHORT and j.off_s is not None]
    return Figures(calls=sum(bool(c.announcements) for c in chosen), announcements=len(verdicts),
                   unknown=count[Verdict.UNKNOWN], honest=count[Verdict.HONEST], too_short=count[Verdict.TOO_SHORT],
                   left_early=count[Verdict.LEFT_EARLY], still_open=count[Verdict.OPEN],
                   off_median_s=percentile(offs, 50) if offs else None,
                   off_p90_s=percentile(offs, 90) if offs else None)


@dataclass(frozen=True)
class HonestyReport:
    total: Figures
    by_organisation: tuple[tuple[str, Figures], ...]  # by organisation code
    target: float = HONEST_TARGET

    @property
    def state(self) -> TargetState:
        return self.total.state(self.target)


def honesty_report(calls: Iterable[AnnouncedCall], *, target: float = HONEST_TARGET) -> HonestyReport:
    if not 0 < target <= 1:
        raise ValueError("target is a share above 0 and at most 1")
    chosen = list(calls)
    organisations = sorted({c.organisation for c in chosen})
    return HonestyReport(figures(chosen),
                         tuple((org, figures(c for c in chosen if c.organisation == org)) for org in organisations),
                         target)


# One written definition per figure, shown next to it on the page and in the export (Dutch, English).
DEFINITIONS: dict[str, tuple[str, str]] = {
    "announcements": ("Meldingen van de verwachte wachttijd in de wachtrij, in de periode (Nederlandse tijd). "
                      "Een beller hoort de eerste na 30 seconden wachten en daarna ongeveer elke 90 seconden.",
                      "Announcements of the expected wait in the queue in the period (Amsterdam time). A caller hears "
                      "the first after 30 seconds and then about every 90 seconds."),
    "unknown": ("Meldingen zonder tijd ('de wachttijd is niet bekend'): die worden niet beoordeeld.",
                "Announcements without a time ('wait unknown'): not judged."),
    "honest": ("Eerlijk: de beller werd opgenomen binnen de gemelde tijd, gerekend vanaf de melding "
               "(opgenomen - gemeld <= gemelde tijd; precies op de gemelde tijd telt als eerlijk).",
               "Honest: answered within the announced time, counted from the announcement "
               "(answered_at - announced_at <= estimate; exactly at the estimate counts as honest)."),
    "too_short": ("Te kort: later opgenomen dan gemeld, of de beller wachtte nog toen de gemelde tijd om was en "
                  "verliet daarna de wachtrij (opgehangen of terugbelverzoek).",
                  "Too short: answered later than announced, or the caller was still waiting when the estimate ran "
                  "out and then left the queue (hung up, asked for a callback)."),
    "judged": ("Beoordeeld: eerlijk plus te kort.", "Judged: honest plus too short."),
    "not_judged": ("Niet beoordeeld: de beller verliet de wachtrij voordat de gemelde tijd om was (niemand weet hoe "
                   "lang het had geduurd), of wacht nog.",
                   "Not judged: the caller left the queue before the estimate ran out (nobody knows how long it would "
                   "have taken), or is still waiting."),
    "share_honest": ("Aandeel eerlijk = eerlijk / beoordeeld. Doel: minstens {target} ('voor de meeste bellers'). "
                     "Geen cijfer als er niets beoordeeld is.",
                     "Share honest = honest / judged. Target: at least {target} ('for most calls'). No figure when "
                     "nothing was judged."),
    "off": ("Hoeveel te kort: bij de te korte meldingen de werkelijke wachttijd min de gemelde, in seconden; mediaan "
            "en 90e percentiel (de waarde op rang ⌈p × n⌉ van klein naar groot). Bij een beller die ophing of "
            "terugbellen vroeg is dat de tijd tot het verlaten van de wachtrij: minstens zoveel.",
            "How far off: for the too-short announcements the actual wait minus the announced one, in seconds; "
            "median and 90th percentile (nearest rank: the value at rank ceil(p x n), smallest first). For a caller "
            "who left, the time until leaving the queue: at least that much."),
    "per_announcement": ("Elke melding wordt apart beoordeeld: een beller die twee keer een tijd hoorde, telt twee "
                         "keer.",
                         "Each announcement is judged on its own: a caller who heard two estimates counts twice."),
}
